// The TensorFlow.js-free part of @rxrl/core, importable by data, reward and logging.
export { Rng, type RngState } from './rng';
export { RxrlError, RxrlUsageError, RxrlConfigError, RxrlDataError } from './errors';
export type { Stage, MetricEvent } from './stage';
export type { Tokenizer, ChatMessage } from './tokenizer';
export * from './columns';
export { SOURCE_CONDITION, isSourceModule, siblingModule, workerExecArgv } from './sourceMode';
export {
  type StageDefinition,
  type StageContext,
  type ColumnSpec,
  defineStage,
  resolveColumns,
  emptyContext,
  requireService,
} from './stageDefinition';
export {
  STEP_METADATA_KEY,
  ROUND_METADATA_KEY,
  type BatchMeta,
  batchMeta,
  batchStep,
  withBatchMeta,
} from './batchMeta';
