// Advantage estimation, reward scaling / shaping and dynamic sampling (src/advantages).
export * from './advantages/index';

// Group formation strategies, size bounds, quality metrics and the grouping.form_groups stage (src/strategies).
export * from './strategies/index';

// The stages of this library as definitions for a stage registry.
export { advantagesStage, advantagesStageSchema } from './advantagesStage';
export { formGroupsStage, groupingStageDefinitions } from './stageDefinitions';
export { overlongFilterStage } from './overlongFilterStage';
export {
  dynamicSamplingStage,
  stepComplete,
  DYNAMIC_SAMPLING_KEEP_COLUMN,
} from './dynamicSamplingStage';
