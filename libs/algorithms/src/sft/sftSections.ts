import { defineSections } from '@rxrl/config';
import { graphSchema } from '@rxrl/pipeline';
import { stepGraphCheck } from '../shared/stepGraph';
import { SFT_SOURCE_COLUMNS } from './sftBatch';
import { sftGraphSpec } from './sftGraph';
import { checkpointingSchema } from '@rxrl/checkpoint';
import { policySchema } from '../shared/policyOptions';
import { loggerSchema, seedSchema } from '../shared/runSections';
import { sftDataSchema, sftSchema } from './sftOptions';

/** The sections of an SFT recipe; `sftSections.validate(recipe)` gives the config `runSft` takes. */
export const sftSections = defineSections(
  {
    seed: seedSchema,
    logger: loggerSchema,
    policy: policySchema,
    sft: sftSchema.prefault({}),
    data: sftDataSchema.prefault({}),
    checkpointing: checkpointingSchema.prefault({}),
    /** the per-step graph; null: loss.<sft.loss_type> → optimizer.step from the keys above */
    graph: graphSchema.nullable().default(null),
  },
  // the cross-checks, once, on the resolved graph
  stepGraphCheck(sftGraphSpec, SFT_SOURCE_COLUMNS),
);
