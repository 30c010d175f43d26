export {
  type StageDefinition,
  type StageContext,
  type ColumnSpec,
  defineStage,
  resolveColumns,
  emptyContext,
  requireService,
} from './stageDefinition';
export { StageRegistry, stageRegistry, registerStage, getStage } from './stageRegistry';
export { registerBuiltinStages } from './builtinStages';
export { advantagesStage, advantagesStageSchema } from './stages/advantagesStage';
export { rewardStageDefinitions } from './stages/rewardStages';
export { groupingStageDefinitions } from './stages/groupingStages';
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
