import { z } from 'zod';
import { cosineMatrix, unitRows } from './embeddings';
import { balancedSizes } from './fitGroupSizes';
import { groupCountFor, groupSizeShape } from './groupCount';
import type { GroupingInput, GroupingStrategy } from './groupingInput';

export const multiCriteriaGroupsOptions = z.strictObject({
  ...groupSizeShape,
  /** Weight of cosine similarity of embeddings (similar samples attract). */
  embedding_weight: z.number().default(0.4),
  /** Weight of |z(reward_i) - z(reward_j)|: positive mixes rewards within a group (advantage signal), negative groups like rewards. */
  reward_weight: z.number().default(0.3),
  /** Weight of |z(diversity_i) - z(diversity_j)|: positive mixes typical and atypical samples in a group. */
  diversity_weight: z.number().default(0.3),
});
export type MultiCriteriaOptions = z.infer<typeof multiCriteriaGroupsOptions>;

/**
 * Per-sample diversity score: mean cosine distance to the rest of the batch (how
 * atypical the sample is) when there are embeddings, else the completion length;
 * all zeros when neither is known.
 */
export function diversityScores(samples: GroupingInput, cos?: Float64Array): Float64Array {
  const n = samples.promptIds.length;
  const out = new Float64Array(n);
  if (cos && n > 1) {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) if (j !== i) s += 1 - cos[i * n + j]!;
      out[i] = s / (n - 1);
    }
  } else if (samples.completionLengths) out.set(samples.completionLengths);
  return out;
}

/** z-scores (population std); all zeros when the std is zero. Missing (NaN) values score 0. */
function zScores(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  let sum = 0;
  let count = 0;
  for (let i = 0; i < n; i++) if (!Number.isNaN(x[i])) [sum, count] = [sum + x[i]!, count + 1];
  const mean = count > 0 ? sum / count : 0;
  let ss = 0;
  for (let i = 0; i < n; i++) if (!Number.isNaN(x[i])) ss += (x[i]! - mean) ** 2;
  const std = count > 0 ? Math.sqrt(ss / count) : 0;
  const out = new Float64Array(n);
  if (std > 1e-12 * Math.max(1, Math.abs(mean))) {
    for (let i = 0; i < n; i++) out[i] = Number.isNaN(x[i]) ? 0 : (x[i]! - mean) / std;
  }
  return out;
}

/**
 * Pairwise affinity (n x n, row-major):
 * `embedding_weight * cos(e_i, e_j) + reward_weight * |z(r_i) - z(r_j)| + diversity_weight * |z(d_i) - z(d_j)|`.
 * The embedding term is left out when the input has no embeddings.
 */
export function multiCriteriaAffinity(
  samples: GroupingInput,
  o: MultiCriteriaOptions,
): Float64Array {
  const n = samples.promptIds.length;
  const cos = samples.embeddings ? cosineMatrix(unitRows(samples, 'multi_criteria')) : undefined;
  const zr = zScores(samples.rewards);
  const zd = zScores(diversityScores(samples, cos));
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      a[i * n + j] =
        (cos ? o.embedding_weight * cos[i * n + j]! : 0) +
        o.reward_weight * Math.abs(zr[i]! - zr[j]!) +
        o.diversity_weight * Math.abs(zd[i]! - zd[j]!);
    }
  }
  return a;
}

/**
 * Greedy grouping from an affinity matrix: group sizes are near-equal; each group
 * starts from the lowest-index unassigned sample and grows by the unassigned sample
 * with the highest mean affinity to its members (ties to the lower index).
 */
export function groupsFromAffinity(affinity: Float64Array, n: number, k: number): Int32Array {
  const out = new Int32Array(n).fill(-1);
  const sum = new Float64Array(n);
  let next = 0;
  balancedSizes(n, k).forEach((size, g) => {
    while (out[next] !== -1) next++;
    sum.fill(0);
    let member = next;
    for (let m = 0; m < size; m++) {
      out[member] = g;
      for (let j = 0; j < n; j++) sum[j]! += affinity[member * n + j]!;
      if (m === size - 1) break;
      let best = -1;
      for (let j = 0; j < n; j++)
        if (out[j] === -1 && (best === -1 || sum[j]! > sum[best]!)) best = j;
      member = best;
    }
  });
  return out;
}

/**
 * Groups by a weighted affinity of embedding similarity, reward distance and
 * diversity distance ({@link multiCriteriaAffinity}), then {@link groupsFromAffinity}.
 */
export const multiCriteriaGroups: GroupingStrategy<MultiCriteriaOptions> = (
  samples,
  options,
  ctx,
) => {
  const n = samples.promptIds.length;
  const k = groupCountFor(samples, options.group_size, ctx);
  return groupsFromAffinity(multiCriteriaAffinity(samples, options), n, k);
};
