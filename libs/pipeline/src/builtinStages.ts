import { advantagesStage } from './stages/advantagesStage';
import { groupingStageDefinitions } from './stages/groupingStages';
import { rewardStageDefinitions } from './stages/rewardStages';
import type { StageRegistry } from './stageRegistry';

/**
 * Registers the stages of the stage libraries the pipeline may import (reward,
 * grouping). Stages that need a model (rollout, loss) are registered by
 * `@rxrl/algorithms`, which owns the policy.
 */
export function registerBuiltinStages(registry: StageRegistry): void {
  for (const def of [...rewardStageDefinitions(), ...groupingStageDefinitions()])
    if (!registry.has(def.name)) registry.register(def);
  if (!registry.has(advantagesStage.name)) registry.register(advantagesStage);
}
