import { checkpointingSchema } from '@rxrl/checkpoint';
import { policySchema } from '../shared/policyOptions';
import { sftDataSchema, sftSchema } from './sftOptions';

/** The recipe sections an SFT run reads, besides `seed` and `logger`: pass to `defineSections` / `extend`. */
export const sftSections = {
  policy: policySchema,
  sft: sftSchema,
  data: sftDataSchema,
  checkpointing: checkpointingSchema.prefault({}),
};
