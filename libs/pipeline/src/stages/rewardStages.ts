import { rewardStages, type RewardStageName } from '@rxrl/reward';
import { COLUMNS } from '@rxrl/core/base';
import { defineStage, type StageDefinition } from '../stageDefinition';

// Reward functions that compare against the ground truth need the `answer` column.
const NEEDS_ANSWER = new Set<RewardStageName>(['reward.math', 'reward.exact_match']);

/**
 * The `@rxrl/reward` registry as pipeline stage definitions: same names and
 * schemas; per-batch reward metrics (`reward/mean`, `reward/nulls`, ...) go to the context.
 */
export function rewardStageDefinitions(): StageDefinition[] {
  return (Object.keys(rewardStages) as RewardStageName[]).map((name) => {
    const entry = rewardStages[name] as {
      schema: any;
      create(options: unknown, hooks?: unknown): any;
    };
    return defineStage({
      name,
      description: `reward stage ${name} from @rxrl/reward: writes the total as 'reward'`,
      schema: entry.schema,
      requires: NEEDS_ANSWER.has(name)
        ? [COLUMNS.completionText, COLUMNS.answer]
        : [COLUMNS.completionText],
      produces: (o: { name?: string; components?: { name: string }[] }) => [
        COLUMNS.reward,
        ...(o.name ? [`${COLUMNS.reward}/${o.name}`] : []),
        ...(o.components ?? []).map((c) => `${COLUMNS.reward}/${c.name}`),
      ],
      create(options, context) {
        return entry.create(options, { onMetrics: (m: Record<string, number>) => context.emit(m) });
      },
    }) as unknown as StageDefinition;
  });
}
