import './builtinStrategies';

export type {
  GroupingInput,
  GroupingContext,
  GroupingStrategy,
  GroupSizeBounds,
  Embedder,
} from './groupingInput';
export {
  registerGroupingStrategy,
  unregisterGroupingStrategy,
  getGroupingStrategy,
  listGroupingStrategies,
  formGroups,
  type GroupingStrategyEntry,
  type RegisterOptions,
  type FormGroupsRequest,
} from './strategyRegistry';
export { BUILTIN_GROUPING_STRATEGIES } from './builtinStrategies';
export {
  fitGroupSizes,
  relabelGroups,
  boundsFeasible,
  balancedSizes,
  chooseGroupCount,
} from './fitGroupSizes';
export { byPrompt, byPromptOptions } from './byPrompt';
export { randomGroups, randomGroupsOptions } from './randomGroups';
export { performanceGroups, performanceGroupsOptions } from './performanceGroups';
export { semanticGroups, semanticGroupsOptions, anchoredGroups } from './semanticGroups';
export {
  multiCriteriaGroups,
  multiCriteriaGroupsOptions,
  multiCriteriaAffinity,
  groupsFromAffinity,
  diversityScores,
} from './multiCriteriaGroups';
export {
  adaptiveGroups,
  adaptiveGroupsOptions,
  GUIDE_ADAPTIVE_SCHEDULE,
  activePhase,
  trainingProgress,
} from './adaptiveGroups';
export { groupQualityMetrics, type GroupQualityInput } from './groupQualityMetrics';
export {
  groupingStage,
  groupingStageOptions,
  readGroupingInput,
  EMBEDDING_COLUMN,
  type GroupingStageOptions,
  type GroupingStageHooks,
} from './groupingStage';
