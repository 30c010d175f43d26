// @rxrl/algorithms: SFT, DPO and GRPO on the @rxrl/pipeline runner.
export { builtinStageRegistry } from './builtinStages';
// Shared by SFT and DPO (GRPO may reuse): policy section, loading/export, micro-batched steps, greedy decoding.
export {
  policySchema,
  policyInitSchema,
  type PolicyOptions,
  type PolicyOptionsInput,
} from './shared/policyOptions';
export {
  loadPolicy,
  exportPolicy,
  exportAdapter,
  adapterDirOf,
  policyModelConfig,
  type LoadedPolicy,
} from './shared/loadPolicy';
export {
  checkTrainingMemory,
  backendHint,
  trainingRunMemory,
  type TrainingMemoryConfig,
} from './shared/memoryCheck';
export { buildOptimizer } from './shared/buildOptimizer';
export {
  accumulatedStep,
  type AccumulatedStepOptions,
  type MetricReduce,
} from './shared/accumulatedStep';
export { microBatches } from './shared/microBatches';
export {
  lmBatchArrays,
  lmBatchTensors,
  countLossTokens,
  type LmSequence,
  type LmBatchArrays,
} from './shared/lmBatch';
export { greedyDecode, type GreedyDecodeOptions } from './shared/greedyDecode';
export { EpochSampler } from './shared/epochSampler';
export { savePolicyState, loadPolicyState } from './shared/policyState';
export { datasetRows, type DatasetSpec } from './shared/datasetRows';
// Generation on a worker thread (both cores on a single-threaded backend).
export * from './rolloutWorker/index';
export {
  TRAINING_RECORD_FILE,
  readTrainingRecord,
  trainingPrompts,
  trainingRecord,
  writeTrainingRecord,
  type TrainingRecord,
} from './shared/trainingRecord';
// SFT
export {
  sftSchema,
  sftDataSchema,
  valGenerationSchema,
  type SftOptions,
  type SftDataOptions,
} from './sft/sftOptions';
export { sftSections } from './sft/sftSections';
export { sftExamples, type SftExample } from './sft/sftExamples';
export {
  SftTrainer,
  sftMicroBatchLoss,
  type SftTrainerArgs,
  type SftObjective,
  type SftLossContext,
} from './sft/sftTrainer';
export { runSft, type SftConfig, type RunSftOptions, type SftRunResult } from './sft/runSft';
// GRPO
export * from './grpo/index';
// DPO
export {
  dpoSchema,
  dpoDataSchema,
  dpoLossOptionsOf,
  type DpoOptions,
  type DpoDataOptions,
} from './dpo/dpoOptions';
export { dpoSections } from './dpo/dpoSections';
export { preferencePairs, type PreferencePair } from './dpo/dpoExamples';
export { pairBatchArrays, pairTokenLogps, splitPairs } from './dpo/pairBatch';
export {
  DPO_PAIR_SOURCE_COLUMNS,
  pairBatch,
  scorePairs,
  validateDpoGraph,
} from './dpo/pairColumns';
export {
  DpoTrainer,
  type DpoTrainerArgs,
  type DpoObjective,
  type DpoLossContext,
} from './dpo/dpoTrainer';
export { runDpo, type DpoConfig, type RunDpoOptions, type DpoRunResult } from './dpo/runDpo';
// GKD (on-policy distillation)
export * from './gkd/index';
export {
  grpoTrainingGraph,
  sftTrainingGraph,
  dpoTrainingGraph,
  gkdTrainingGraph,
  type ResolvedTrainingGraph,
  type ResolvedNode,
} from './trainingGraph';
