export {
  AdvantageOptionsSchema,
  ESTIMATORS,
  type AdvantageOptions,
  type AdvantageOptionsInput,
} from './advantageOptions';
export {
  computeAdvantages,
  parseAdvantageOptions,
  type AdvantageInputs,
  type AdvantageResult,
} from './computeAdvantages';
export {
  indexGroups,
  momentStats,
  baselineAndStd,
  isZeroStd,
  DEFAULT_ZERO_STD_RTOL,
  type GroupIndex,
  type RewardArray,
  type MomentStats,
  type BaselineAndStd,
} from './groupStats';
export { grpoAdvantages, type GrpoAdvantageParams } from './grpoAdvantages';
export { rlooAdvantages } from './rlooAdvantages';
export { reinforcePlusPlusAdvantages } from './reinforcePlusPlusAdvantages';
export { gdpoAdvantages } from './gdpoAdvantages';
export { whitenInPlace, whitenWeightedInPlace, WHITEN_VAR_FLOOR } from './whiten';
export { clipAdvantagesInPlace } from './clipAdvantages';
export {
  RewardScalingOptionsSchema,
  scaleRewards,
  type RewardScalingOptions,
} from './rewardScaling';
export {
  RewardShapingOptionsSchema,
  shapeRewards,
  overlongPenalty,
  type RewardShapingOptions,
  type ShapingInputs,
} from './rewardShaping';
export { dynamicSamplingFilter, type DynamicSamplingResult } from './dynamicSampling';
export {
  readRewardColumn,
  rewardComponentNames,
  readAdvantageInputs,
  addAdvantageColumn,
  readResponseLengths,
  readFinishReasons,
} from './advantageColumns';
