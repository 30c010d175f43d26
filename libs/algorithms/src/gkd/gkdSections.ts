import { defineSections } from '@rxrl/config';
import { graphSchema } from '@rxrl/pipeline';
import { stepGraphCheck } from '../shared/stepGraph';
import { SFT_SOURCE_COLUMNS } from '../sft/sftBatch';
import { gkdRecipeGraphSpec } from './gkdTrainer';
import { checkpointingSchema } from '@rxrl/checkpoint';
import { policySchema } from '../shared/policyOptions';
import { loggerSchema, seedSchema } from '../shared/runSections';
import { sftDataSchema } from '../sft/sftOptions';
import { gkdSchema } from './gkdOptions';

/** The sections of a GKD recipe (`policy` is the student); `gkdSections.validate(recipe)` gives the config `runGkd` takes. */
export const gkdSections = defineSections(
  {
    seed: seedSchema,
    logger: loggerSchema,
    policy: policySchema,
    gkd: gkdSchema,
    data: sftDataSchema.prefault({}),
    checkpointing: checkpointingSchema.prefault({}),
    /** the per-step graph; null: gkd.sample_completions → loss.gkd → optimizer.step from the keys above */
    graph: graphSchema.nullable().default(null),
  },
  // the cross-checks, once, on the resolved graph
  stepGraphCheck<
    Parameters<typeof gkdRecipeGraphSpec>[0] & { policy: { train_global_batch_size: number } }
  >((c) => gkdRecipeGraphSpec(c), SFT_SOURCE_COLUMNS),
);
