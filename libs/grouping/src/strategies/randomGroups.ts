import { z } from 'zod';
import { balancedSizes, contiguousGroups } from './fitGroupSizes';
import { groupCountFor, groupSizeShape } from './groupCount';
import type { GroupingStrategy } from './groupingInput';

export const randomGroupsOptions = z.strictObject({ ...groupSizeShape });

/**
 * Random groups: a seeded permutation of the batch cut into near-equal groups
 * (sizes differ by at most one and lie within the bounds when they can).
 */
export const randomGroups: GroupingStrategy<z.infer<typeof randomGroupsOptions>> = (
  samples,
  options,
  ctx,
) => {
  const n = samples.promptIds.length;
  const k = groupCountFor(samples, options.group_size, ctx);
  return contiguousGroups(ctx.rng.permutation(n), balancedSizes(n, k));
};
