export {
  type Metrics,
  type LossResult,
  keepMetrics,
  readMetrics,
  readMetricsSync,
  disposeLossResult,
} from './lossResult';
export { maskedMean, stopGradient, constant } from './masked';
export { type KlType, KL_TYPES, klK1, klK2, klK3, calculateKl } from './klEstimators';
export { type NllInputs, nllLoss } from './nllLoss';
export {
  DPO_LOSS_TYPES,
  F_DIVERGENCE_TYPES,
  type DpoLossType,
  dpoLossOptionsSchema,
  type DpoLossOptions,
  type DpoLossOptionsInput,
  type DpoInputs,
  type DpoResult,
  type DpoPerPair,
  type BcoState,
  dpoLoss,
  DPO_SHIFTABLE_LOSS_TYPES,
} from './dpoLoss';
export {
  LOSS_AGGREGATIONS,
  clippedPgLossOptionsSchema,
  type ClippedPgLossOptions,
  type ClippedPgLossOptionsInput,
  type ClippedPgInputs,
  clippedPgLoss,
} from './clippedPgLoss';
export {
  preferenceLossOptionsSchema,
  type PreferenceLossOptions,
  type PreferenceInputs,
  preferenceLoss,
} from './preferenceLoss';
export {
  type Schedule,
  scheduleSchema,
  type ScheduleSpec,
  constantSchedule,
  linearSchedule,
  controllerSchedule,
  cosineSchedule,
  stepSchedule,
  bandSchedule,
  piSchedule,
  makeSchedule,
} from './schedules';
export {
  coefficientSchedulesSchema,
  type CoefficientSchedulesSpec,
  CoefficientSchedules,
} from './coefficientSchedules';
export { type LossTerm, composeLosses } from './composeLosses';
export { type PairLogpsInputs } from './pairLogps';
export {
  orpoLossOptionsSchema,
  type OrpoLossOptions,
  type OrpoLossOptionsInput,
  orpoLoss,
} from './orpoLoss';
export {
  CPO_LOSS_TYPES,
  cpoLossOptionsSchema,
  type CpoLossOptions,
  type CpoLossOptionsInput,
  cpoLoss,
} from './cpoLoss';
export {
  KTO_LOSS_TYPES,
  ktoLossOptionsSchema,
  type KtoLossOptions,
  type KtoLossOptionsInput,
  type KtoInputs,
  ktoLoss,
} from './ktoLoss';
export {
  preferenceObjectiveSchema,
  type PreferenceObjective,
  type PreferenceObjectiveInput,
  objectiveNeedsReference,
  objectiveNeedsMismatchedKl,
  preferenceObjectiveLoss,
} from './preferenceObjectives';
export { dftLoss } from './dftLoss';
export {
  gkdLossOptionsSchema,
  type GkdLossOptions,
  type GkdLossOptionsInput,
  type GkdInputs,
  gkdLoss,
} from './gkdLoss';
