import { adaptiveGroups, adaptiveGroupsOptions, adaptiveNeedsEmbeddings } from './adaptiveGroups';
import { byPrompt, byPromptOptions } from './byPrompt';
import { multiCriteriaGroups, multiCriteriaGroupsOptions } from './multiCriteriaGroups';
import { performanceGroups, performanceGroupsOptions } from './performanceGroups';
import { randomGroups, randomGroupsOptions } from './randomGroups';
import { semanticGroups, semanticGroupsOptions } from './semanticGroups';
import { getGroupingStrategy, registerGroupingStrategy } from './strategyRegistry';

/** Names of the strategies this library registers. */
export const BUILTIN_GROUPING_STRATEGIES = [
  'by_prompt',
  'random',
  'performance',
  'semantic',
  'multi_criteria',
  'adaptive',
] as const;

let registered = false;

/** Registers the built-in strategies once (idempotent); importing the package does it. */
export function registerBuiltinGroupingStrategies(): void {
  if (registered) return;
  registered = true;
  const has = (name: string) => {
    try {
      getGroupingStrategy(name);
      return true;
    } catch {
      return false;
    }
  };
  if (!has('by_prompt')) registerGroupingStrategy('by_prompt', byPrompt, byPromptOptions);
  if (!has('random')) registerGroupingStrategy('random', randomGroups, randomGroupsOptions);
  if (!has('performance'))
    registerGroupingStrategy('performance', performanceGroups, performanceGroupsOptions);
  if (!has('semantic')) {
    registerGroupingStrategy('semantic', semanticGroups, semanticGroupsOptions, {
      needsEmbeddings: true,
    });
  }
  if (!has('multi_criteria')) {
    // Embeddings are optional for multi_criteria (the similarity term drops out without them),
    // but the stage should fetch them when it can, as the default weights use them.
    registerGroupingStrategy('multi_criteria', multiCriteriaGroups, multiCriteriaGroupsOptions, {
      needsEmbeddings: (o) => o.embedding_weight !== 0,
    });
  }
  if (!has('adaptive')) {
    registerGroupingStrategy('adaptive', adaptiveGroups, adaptiveGroupsOptions, {
      needsEmbeddings: adaptiveNeedsEmbeddings,
    });
  }
}

registerBuiltinGroupingStrategies();
