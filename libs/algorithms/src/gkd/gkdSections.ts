import { defineSections } from '@rxrl/config';
import { checkpointingSchema } from '@rxrl/checkpoint';
import { policySchema } from '../shared/policyOptions';
import { loggerSchema, seedSchema } from '../shared/runSections';
import { sftDataSchema } from '../sft/sftOptions';
import { gkdSchema } from './gkdOptions';

/** The sections of a GKD recipe (`policy` is the student); `gkdSections.validate(recipe)` gives the config `runGkd` takes. */
export const gkdSections = defineSections({
  seed: seedSchema,
  logger: loggerSchema,
  policy: policySchema,
  gkd: gkdSchema,
  data: sftDataSchema.prefault({}),
  checkpointing: checkpointingSchema.prefault({}),
});
