// @rxrl/reward: verifiable rewards and the reward stage. TensorFlow.js-free.
export type {
  RewardSample,
  RewardFn,
  RewardValue,
  RewardContext,
  RewardFailure,
  RewardComponent,
} from './sample';
export { RewardFatalError, noopContext } from './sample';
export {
  extractAnswer,
  extractBoxed,
  extractAfterHash,
  extractTag,
  extractLastNumber,
  goldAnswer,
  parseNumber,
  normalizeAnswer,
  answersEquivalent,
  type ExtractionStrategy,
} from './mathAnswer';
export { mathReward, mathRewardOptions, type MathRewardOptions } from './mathReward';
export {
  exactMatchReward,
  exactMatchOptions,
  regexMatchReward,
  regexMatchOptions,
} from './matchReward';
export { formatReward, formatRewardOptions, type FormatRewardOptions } from './formatReward';
export { lengthPenalty, lengthPenaltyOptions, type LengthPenaltyOptions } from './lengthPenalty';
export { compositeReward, compositeOptions, type CompositeReward } from './compositeReward';
export { jsFunctionReward, jsModuleReward, jsFunctionOptions } from './jsFunctionReward';
export {
  remoteReward,
  remoteRewardOptions,
  type RemoteRewardOptions,
  type RemoteRewardMapping,
} from './remoteReward';
export {
  RewardWorkerPool,
  workerPoolOptions,
  type WorkerPoolOptions,
  type WorkerOutcome,
} from './workerPool';
export { workerReward, type WorkerReward } from './workerReward';
export {
  rewardStage,
  rewardStageOptions,
  samplesFromBatch,
  type RewardStageOptions,
  type RewardStageHooks,
  type RewardBatchMetrics,
  type RewardSpec,
} from './rewardStage';
export {
  rewardStages,
  rewardFunctions,
  rewardStageDefinitions,
  type RewardStageName,
  type RewardFunctionName,
} from './registry';
export {
  pairRewardStage,
  pairRewardStageDefinition,
  pairRewardOptions,
  pairRewardColumns,
  pairBonusColumn,
  pairMarginColumn,
  parsePairColumn,
  PAIR_TEXT_COLUMNS,
  type PairRewardOptions,
  type PairSide,
} from './pairReward';
