import { defineSections } from '@rxrl/config';
import { checkpointingSchema } from '@rxrl/checkpoint';
import { policySchema } from '../shared/policyOptions';
import { loggerSchema, seedSchema } from '../shared/runSections';
import { sftDataSchema, sftSchema } from './sftOptions';

/** The sections of an SFT recipe; `sftSections.validate(recipe)` gives the config `runSft` takes. */
export const sftSections = defineSections({
  seed: seedSchema,
  logger: loggerSchema,
  policy: policySchema,
  sft: sftSchema.prefault({}),
  data: sftDataSchema.prefault({}),
  checkpointing: checkpointingSchema.prefault({}),
});
