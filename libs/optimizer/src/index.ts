export { NamedOptimizer, type OptimizerState } from './namedOptimizer';
export { Adam, AdamW, type OptimizerExtras, type AdamOptionsInput } from './adam';
export { SGD, type SgdOptionsInput } from './sgd';
export {
  AdamOptionsSchema,
  SgdOptionsSchema,
  type AdamOptions,
  type SgdOptions,
} from './optimizerOptions';
export { createOptimizer, OptimizerConfigSchema } from './createOptimizer';
export { isNormOrBias, type ParamGroup } from './paramGroups';
export { toVariableMap, type NamedVariables, type NamedTensors } from './namedVariables';
export {
  LrScheduler,
  LrScheduleSchema,
  lrFactor,
  type LrFactor,
  type LrScheduleInput,
  type LrSchedulerState,
} from './lrSchedule';
export { NemoSchedulerListSchema, nemoSchedulerFactor } from './nemoScheduler';
export { clipByGlobalNorm, clipCoefficient, globalNorm } from './clipGradNorm';
export { GradientAccumulator } from './gradientAccumulator';
export { layerGroup, layerGradNorms } from './layerGradNorms';
