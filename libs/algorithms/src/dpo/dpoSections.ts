import { defineSections } from '@rxrl/config';
import { checkpointingSchema } from '@rxrl/checkpoint';
import { policySchema } from '../shared/policyOptions';
import { loggerSchema, seedSchema } from '../shared/runSections';
import { dpoDataSchema, dpoSchema } from './dpoOptions';

/** The sections of a DPO recipe; `dpoSections.validate(recipe)` gives the config `runDpo` takes. */
export const dpoSections = defineSections({
  seed: seedSchema,
  logger: loggerSchema,
  policy: policySchema,
  dpo: dpoSchema.prefault({}),
  data: dpoDataSchema.prefault({}),
  checkpointing: checkpointingSchema.prefault({}),
});
