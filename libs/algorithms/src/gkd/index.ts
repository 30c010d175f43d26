export { gkdSchema, gkdTeacherSchema, type GkdOptions, type GkdOptionsInput } from './gkdOptions';
export { gkdSections } from './gkdSections';
export {
  GkdTrainer,
  gkdGraphSpec,
  gkdMicroBatchLoss,
  type GkdObjective,
  type GkdLossContext,
  teacherLogits,
  type GkdTrainerArgs,
} from './gkdTrainer';
export { sampleCompletionsStage, gkdLossStage, GKD_TOKENS, GKD_LOSS_MASK } from './gkdStages';
export { sampledCompletions, type SampledSequence } from './sampledCompletions';
export {
  runGkd,
  REMOTE_TEACHER_REFUSAL,
  type GkdConfig,
  type RunGkdOptions,
  type GkdRunResult,
} from './runGkd';
