import { defineSections } from '@rxrl/config';
import { graphSchema } from '@rxrl/pipeline';
import { stepGraphCheck } from '../shared/stepGraph';
import { PREFERENCE_SOURCE_COLUMNS } from './pairBatch';
import { dpoGraphSpec } from './dpoGraph';
import { checkpointingSchema } from '@rxrl/checkpoint';
import { policySchema } from '../shared/policyOptions';
import { loggerSchema, seedSchema } from '../shared/runSections';
import { dpoDataSchema, dpoSchema } from './dpoOptions';

/** The sections of a DPO recipe; `dpoSections.validate(recipe)` gives the config `runDpo` takes. */
export const dpoSections = defineSections(
  {
    seed: seedSchema,
    logger: loggerSchema,
    policy: policySchema,
    dpo: dpoSchema.prefault({}),
    data: dpoDataSchema.prefault({}),
    checkpointing: checkpointingSchema.prefault({}),
    /** the per-step graph; null: [policy.reference_logprobs] → loss.dpo (or loss.<dpo.objective.name>) → optimizer.step from the keys above */
    graph: graphSchema.nullable().default(null),
  },
  // the cross-checks, once, on the resolved graph
  stepGraphCheck(dpoGraphSpec, PREFERENCE_SOURCE_COLUMNS),
);
