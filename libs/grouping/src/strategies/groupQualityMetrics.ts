import { isZeroStd, momentStats } from '../advantages/groupStats';
import { dot, unitRows } from './embeddings';
import { groupMembers } from './fitGroupSizes';

/** Inputs of {@link groupQualityMetrics}: the grouping, the rewards, and optionally embeddings. */
export interface GroupQualityInput {
  groupIds: ArrayLike<number>;
  /** NaN rewards are missing and left out of the std. */
  rewards: ArrayLike<number>;
  embeddings?: readonly Float32Array[];
  /** completion texts; null counts as the empty completion */
  completionTexts?: readonly (string | null)[];
}

/**
 * How good a grouping is for group-relative advantages, as `train/grouping/*` metrics:
 * - `num_groups`, `group_size_mean`, `group_size_min`, `group_size_max`;
 * - `reward_std_mean`: mean over groups of the Bessel-corrected reward std (as the
 *   advantage estimators compute it);
 * - `zero_std_fraction`: fraction of groups whose rewards are all equal (or have fewer
 *   than two valid rewards) — GRPO gets no gradient from them;
 * - `embedding_spread` (with embeddings): mean over groups of two or more of the mean
 *   pairwise cosine distance `1 - cos` within the group;
 * - `distinct_completion_fraction` (with completion texts): mean over groups of the
 *   number of distinct completions (whitespace-trimmed) divided by the group's size —
 *   1 when every sample answered differently, 1/size when all gave the same answer.
 */
export function groupQualityMetrics(input: GroupQualityInput): Record<string, number> {
  const groups = groupMembers(input.groupIds);
  const g = groups.length;
  const out: Record<string, number> = { 'train/grouping/num_groups': g };
  if (g === 0) return out;
  let sizeSum = 0;
  let sizeMin = Number.POSITIVE_INFINITY;
  let sizeMax = 0;
  let stdSum = 0;
  let zero = 0;
  for (const members of groups) {
    sizeSum += members.length;
    sizeMin = Math.min(sizeMin, members.length);
    sizeMax = Math.max(sizeMax, members.length);
    const stats = momentStats(input.rewards, members);
    stdSum += stats.std;
    if (stats.count < 2 || isZeroStd(stats.std, stats.scale)) zero++;
  }
  out['train/grouping/group_size_mean'] = sizeSum / g;
  out['train/grouping/group_size_min'] = sizeMin;
  out['train/grouping/group_size_max'] = sizeMax;
  out['train/grouping/reward_std_mean'] = stdSum / g;
  out['train/grouping/zero_std_fraction'] = zero / g;
  if (input.embeddings) {
    const rows = unitRows(
      {
        promptIds: new Int32Array(input.groupIds.length),
        rewards: new Float32Array(0),
        embeddings: input.embeddings,
      },
      'groupQualityMetrics',
    );
    let spreadSum = 0;
    let counted = 0;
    for (const members of groups) {
      if (members.length < 2) continue;
      let d = 0;
      let pairs = 0;
      for (let a = 0; a < members.length; a++) {
        for (let b = a + 1; b < members.length; b++) {
          d += 1 - dot(rows[members[a]!]!, rows[members[b]!]!);
          pairs++;
        }
      }
      spreadSum += d / pairs;
      counted++;
    }
    out['train/grouping/embedding_spread'] = counted > 0 ? spreadSum / counted : 0;
  }
  const texts = input.completionTexts;
  if (texts) {
    let fractionSum = 0;
    for (const members of groups)
      fractionSum += new Set(members.map((i) => (texts[i] ?? '').trim())).size / members.length;
    out['train/grouping/distinct_completion_fraction'] = fractionSum / g;
  }
  return out;
}
