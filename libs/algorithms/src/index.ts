// @rxrl/algorithms: SFT, DPO and GRPO on the @rxrl/pipeline runner.
export { builtinStageRegistry, trainingStageDefinitions } from './builtinStages';
export {
  dataStageDefinitions,
  dataTokenizeStage,
  dataPadStage,
  dataPackStage,
  rawRowsBatch,
  INPUT_IDS,
  ATTENTION_MASK,
  POSITION_IDS,
  SEGMENT_IDS,
} from './shared/dataStages';
// The per-step graph of SFT and DPO: resolved specs, the training stages' services, the shared step
export {
  StepGraph,
  validateStepGraph,
  withKeyDefaults,
  withLossNode,
  type KeyDefaults,
} from './shared/stepGraph';
export { PendingUpdate } from './shared/accumulatedStep';
export { type TrainingServices } from './shared/trainingServices';
export {
  optimizerStepStage,
  optimizerStepOptionsSchema,
  optimizerStepOptionsOf,
  type OptimizerStepOptions,
} from './shared/optimizerStepStage';
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
export { SftTrainer, type SftTrainerArgs } from './sft/sftTrainer';
export {
  sftMicroBatchLoss,
  sftLossStage,
  nllLossStage,
  dftLossStage,
  sftLossOptionsSchema,
  type SftObjective,
  type SftLossContext,
} from './sft/sftLoss';
export { sftBatch, sftExamplesOf, SFT_SOURCE_COLUMNS } from './sft/sftBatch';
export { sftGraphSpec } from './sft/sftGraph';
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
export {
  pairBatchArrays,
  pairTokenLogps,
  splitPairs,
  preferenceBatch,
  pairsOf,
  PREFERENCE_SOURCE_COLUMNS,
} from './dpo/pairBatch';
export { DpoTrainer, type DpoTrainerArgs } from './dpo/dpoTrainer';
export { PAIR_TEXT_SOURCE_COLUMNS, pairTextColumns, graphReadsPairTexts } from './dpo/pairColumns';
export {
  pairShiftsOf,
  pairShiftProblems,
  writesPairShifts,
  type PairShifts,
  type PairShiftProblem,
} from './dpo/pairShifts';
export {
  preferenceLossStage,
  dpoLossStage,
  preferenceObjectiveStages,
  codeObjectiveStage,
  type PreferenceLossDefinition,
  type DpoObjective,
  type DpoLossContext,
} from './dpo/preferenceLoss';
export {
  referenceLogprobsStage,
  REFERENCE_CHOSEN_LOGPS,
  REFERENCE_REJECTED_LOGPS,
} from './dpo/referenceLogprobs';
export { dpoGraphSpec } from './dpo/dpoGraph';
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
// Custom algorithms as plugins (`algorithm: ./my_algo.ts#MyAlgo` in a recipe, run by `rxrl train`)
export type {
  TrainingAlgorithm,
  AlgorithmBuildContext,
  AlgorithmSteps,
} from './plugin/trainingAlgorithm';
export {
  pluginSections,
  pluginLoopShape,
  runAlgorithmPlugin,
  type PluginConfig,
  type RunAlgorithmPluginOptions,
  type PluginRunResult,
} from './plugin/runAlgorithmPlugin';
export {
  loadAlgorithmPlugin,
  parsePluginReference,
  pluginShapeProblems,
} from './plugin/loadAlgorithmPlugin';
