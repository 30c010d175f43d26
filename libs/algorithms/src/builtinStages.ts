import type { StageDefinition } from '@rxrl/core/base';
import { groupingStageDefinitions } from '@rxrl/grouping';
import { StageRegistry } from '@rxrl/pipeline';
import { rewardStageDefinitions } from '@rxrl/reward';
import { rolloutStageDefinitions } from '@rxrl/rollout';

/**
 * Every built-in stage a recipe's `graph:` may name: the definitions each stage
 * library exports (reward, grouping, rollout), gathered here explicitly, plus
 * `extra` (a user's stages; a taken name throws unless it is meant to replace,
 * which `registry.register(def, { replace: true })` says).
 */
export function builtinStageRegistry(extra: readonly StageDefinition[] = []): StageRegistry {
  return new StageRegistry([
    ...rewardStageDefinitions(),
    ...groupingStageDefinitions(),
    ...rolloutStageDefinitions(),
    ...extra,
  ]);
}
