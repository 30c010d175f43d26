// the definition type lives in @rxrl/core/base so stage libraries define their stages without depending on the pipeline
export {
  type StageDefinition,
  type StageContext,
  type ColumnSpec,
  defineStage,
  resolveColumns,
  emptyContext,
  requireService,
  batchMeta,
  batchStep,
  withBatchMeta,
  type BatchMeta,
} from '@rxrl/core/base';
export { StageRegistry } from './stageRegistry';
export { openGraphSession, type GraphSession } from './graphSession';
export {
  graphSchema,
  graphNodeSchema,
  type GraphSpec,
  type ValidatedNode,
  type ValidateGraphOptions,
  validateGraph,
  buildGraph,
  pipe,
  graphOf,
} from './graph';
export {
  runnerOptionsSchema,
  earlyStoppingSchema,
  type RunnerOptions,
  type RunnerOptionsInput,
} from './runnerOptions';
export { type RunState, RUN_STATE_FILE } from './runState';
export type {
  TrainingAlgorithm,
  BatchSource,
  MoreBatches,
  StepResult,
  StateFiles,
} from './trainingAlgorithm';
export { stateFileBytes } from './stateFileBytes';
export { runTraining, type RunTrainingOptions, type RunResult, type StopReason } from './runner';
export {
  onNonFiniteSchema,
  type OnNonFinite,
  NonFiniteError,
  assertFinite,
  nonFiniteMetricKey,
} from './faults/index';
