import { z } from 'zod';
import { balancedSizes, contiguousGroups } from './fitGroupSizes';
import { groupCountFor, groupSizeShape } from './groupCount';
import type { GroupingStrategy } from './groupingInput';

export const performanceGroupsOptions = z.strictObject({
  ...groupSizeShape,
  /**
   * `similar`: sort by reward and cut into contiguous runs, so each group holds
   * samples of near-equal reward (a curriculum by difficulty; note GRPO learns
   * nothing from a group whose rewards are all equal). `stratified`: deal the
   * sorted samples round-robin, so every group spans the reward range (maximal
   * within-group spread, hence advantage signal).
   */
  mode: z.enum(['similar', 'stratified']).default('similar'),
});

/**
 * Groups by reward. Samples are ordered by reward ascending (ties and then missing
 * rewards by sample index); in `similar` mode the raw id 0 holds the lowest rewards (formGroups then relabels ids by first appearance).
 */
export const performanceGroups: GroupingStrategy<z.infer<typeof performanceGroupsOptions>> = (
  samples,
  options,
  ctx,
) => {
  const r = samples.rewards;
  const n = r.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => {
    const ra = r[a]!;
    const rb = r[b]!;
    const na = Number.isNaN(ra);
    const nb = Number.isNaN(rb);
    if (na !== nb) return na ? 1 : -1;
    return (na ? 0 : ra - rb) || a - b;
  });
  const k = groupCountFor(samples, options.group_size, ctx);
  if (options.mode === 'similar') return contiguousGroups(order, balancedSizes(n, k));
  const out = new Int32Array(n);
  order.forEach((i, rank) => (out[i] = rank % k));
  return out;
};
