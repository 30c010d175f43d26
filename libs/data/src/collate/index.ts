export {
  padSequences,
  padValues,
  padOptionsSchema,
  type PadOptions,
  type PaddedBatch,
} from './pad';
export {
  bestFitDecreasing,
  packSequences,
  packValues,
  packedAttends,
  packOptionsSchema,
  type PackOptions,
  type PackedBatch,
} from './pack';
export type { Sequences } from './sequences';
