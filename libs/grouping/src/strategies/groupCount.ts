import { z } from 'zod';
import { chooseGroupCount } from './fitGroupSizes';
import type { GroupingContext, GroupingInput } from './groupingInput';

/** The `group_size` option shared by strategies that cut a batch into groups themselves. */
export const groupSizeShape = {
  /** Target samples per group; default: the batch's mean samples per prompt (`num_generations_per_prompt` for a full batch), so the group count matches `by_prompt`. */
  group_size: z.int().min(1).optional(),
};

/** Number of distinct prompt ids. */
export function distinctPrompts(promptIds: Int32Array): number {
  return new Set(promptIds).size;
}

/** How many groups a cutting strategy forms: from `group_size` (or samples per prompt) fitted to the bounds. */
export function groupCountFor(
  samples: GroupingInput,
  groupSize: number | undefined,
  ctx: GroupingContext,
): number {
  const n = samples.promptIds.length;
  if (n === 0) return 0;
  const target = groupSize ?? n / distinctPrompts(samples.promptIds);
  return chooseGroupCount(n, target, ctx.bounds);
}
