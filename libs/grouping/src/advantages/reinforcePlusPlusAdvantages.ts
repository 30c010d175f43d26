import {
  baselineAndStd,
  DEFAULT_ZERO_STD_RTOL,
  type GroupIndex,
  type RewardArray,
} from './groupStats';
import { whitenWeightedInPlace } from './whiten';

/**
 * REINFORCE++ (Hu 2025, arXiv 2501.03262) for outcome rewards: the reward itself
 * (or, with `groupBaseline`, minus its group mean: REINFORCE++-baseline) whitened
 * over the valid tokens of the whole batch as NeMo RL does it: each sample counts
 * `tokenCounts[i]` times (its completion length; once each when omitted), the
 * variance is the biased one, floored at 1e-8. Missing rewards get 0.
 */
export function reinforcePlusPlusAdvantages(
  rewards: RewardArray,
  groups: GroupIndex,
  p: {
    groupBaseline: boolean;
    tokenCounts?: ArrayLike<number>;
    stdEpsilon?: number;
    zeroStdRtol?: number;
  },
): Float64Array {
  const out = Float64Array.from(rewards);
  if (p.groupBaseline) {
    const { baseline } = baselineAndStd(rewards, groups, false);
    for (let i = 0; i < out.length; i++) out[i] = out[i]! - baseline[i]!;
  }
  whitenWeightedInPlace(
    out,
    p.tokenCounts,
    p.stdEpsilon ?? 0,
    p.zeroStdRtol ?? DEFAULT_ZERO_STD_RTOL,
  );
  return out;
}
