import { map } from 'rxjs';
import { z } from 'zod';
import { COLUMNS, defineStage } from '@rxrl/core/base';
import { AdvantageOptionsSchema } from './advantages/advantageOptions';
import { addAdvantageColumn } from './advantages/advantageColumns';

/** Options of `grouping.advantages`: the advantage estimator's options plus the group column. */
export const advantagesStageSchema = z.strictObject({
  ...AdvantageOptionsSchema.shape,
  /** column holding each sample's group (`group_id`; `prompt_id` groups by prompt directly) */
  group_column: z.string().min(1).default(COLUMNS.groupId),
});

/**
 * `grouping.advantages`: per-sample advantages from `reward` grouped by
 * `group_column` (GRPO, RLOO, REINFORCE++, GDPO estimators of @rxrl/grouping),
 * written as the `advantage` column. Emits `advantage_mean`, `advantage_abs_max`,
 * `num_missing_rewards`, `num_clipped_advantages` per batch.
 */
export const advantagesStage = defineStage({
  name: 'grouping.advantages',
  description:
    'per-sample advantages from reward grouped by group_id (grpo, rloo, reinforce_plus_plus, gdpo)',
  schema: advantagesStageSchema,
  requires: (o) => (o.estimator === 'gdpo' ? [o.group_column] : [COLUMNS.reward, o.group_column]),
  produces: [COLUMNS.advantage],
  create(options, context) {
    const { group_column, ...estimator } = options;
    return map((batch) => {
      const out = addAdvantageColumn(batch, estimator, { groupColumn: group_column });
      context.emit({ ...out.metrics });
      return out.batch;
    });
  },
});
