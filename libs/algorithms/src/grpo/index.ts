export {
  grpoSections,
  grpoSchema,
  grpoPolicySchema,
  grpoGenerationSchema,
  grpoDataSchema,
  grpoEnvSchema,
  grpoLoggerSchema,
  grpoGroupingSchema,
  grpoTrainFile,
  isBuiltinArithmetic,
  type GrpoConfig,
} from './grpoConfig';
export {
  GrpoTrainer,
  type GrpoTrainerOptions,
  type GrpoObjective,
  type GrpoLossContext,
} from './grpoTrainer';
export { runGrpo, type RunGrpoOptions } from './runGrpo';
export {
  grpoStepLoop,
  stepRollout,
  type GrpoStepLoopOptions,
  type StepRollout,
} from './grpoStepLoop';
export {
  grpoGraphSpec,
  splitGrpoGraph,
  grpoValidationSpec,
  rolloutOptionsOf,
  samplesPerPrompt,
  validateGrpoGraph,
  formGroupsOptionsOf,
  groupsFromKeys,
  GRPO_SOURCE_COLUMNS,
  GRPO_TRAIN_COLUMNS,
} from './grpoGraph';
export {
  loadPromptSets,
  promptBatch,
  promptBatches,
  tokenizePrompts,
  type PromptSet,
} from './promptSet';
export {
  policyBatch,
  completionLogprobs,
  completionLogprobsHost,
  type PolicyBatch,
} from './policyBatch';
export {
  PromptEmbedder,
  type PromptEmbedderOptions,
  type PromptEmbedderStats,
} from './promptEmbedder';
