export { loadRecipe, parseRecipe, DEFAULTS_KEY, type LoadRecipeOptions } from './loadRecipe';
export type { LoadedConfig } from './loadedConfig';
export { applyOverrides, parseOverride, coerceOverrideValue, type Override } from './overrides';
export {
  defineSections,
  type ConfigSections,
  type SectionsOutput,
  type SectionsCheck,
  type CrossSectionIssue,
} from './defineSections';
export { ConfigValidationError, formatConfigIssue, type ConfigIssue } from './configIssue';
export { resolveConfig } from './resolveConfig';
export { formatResolvedConfig, saveResolvedConfig } from './resolvedConfig';
export { closestMatch, editDistance } from './didYouMean';
export { deepMerge, getAt } from './deepMerge';
export {
  formatSource,
  formatKeyPath,
  sourceAt,
  type Source,
  type SourceMap,
  type KeyPath,
} from './source';
