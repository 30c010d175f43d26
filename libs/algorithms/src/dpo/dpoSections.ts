import { checkpointingSchema } from '@rxrl/checkpoint';
import { policySchema } from '../shared/policyOptions';
import { dpoDataSchema, dpoSchema } from './dpoOptions';

/** The recipe sections a DPO run reads, besides `seed` and `logger`. */
export const dpoSections = {
  policy: policySchema,
  dpo: dpoSchema,
  data: dpoDataSchema,
  checkpointing: checkpointingSchema.prefault({}),
};
