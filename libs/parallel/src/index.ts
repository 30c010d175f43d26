export { DataParallelTrainer, type StepResult } from './dataParallelTrainer';
export {
  DataParallelOptionsSchema,
  type DataParallelOptions,
  type DataParallelOptionsInput,
  DEFAULT_STEP_MODULE,
} from './dataParallelOptions';
export type { ReplicaInit } from './protocol';
export type { ShardLossFn } from './shardLoss';
export { type TrainBatch, type BatchColumn, shardRows, sliceRows } from './trainBatch';
export { sftNllLoss, sftTrainBatch, type SftArrays } from './sftNllLoss';
export { ParamLayout, type ParamSlot } from './paramLayout';
