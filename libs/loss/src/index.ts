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
  type BcoState,
  dpoLoss,
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
  makeSchedule,
} from './schedules';
export { type LossTerm, composeLosses } from './composeLosses';
