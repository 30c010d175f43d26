import {
  baselineAndStd,
  DEFAULT_ZERO_STD_RTOL,
  type GroupIndex,
  type RewardArray,
} from './groupStats';
import { whitenInPlace } from './whiten';

/**
 * REINFORCE++ (Hu 2025, arXiv 2501.03262) for outcome rewards: the reward itself
 * (or, with `groupBaseline`, minus its group mean: REINFORCE++-baseline) whitened
 * over the whole batch with the Bessel-corrected std. Missing rewards get 0.
 */
export function reinforcePlusPlusAdvantages(
  rewards: RewardArray,
  groups: GroupIndex,
  p: { groupBaseline: boolean; stdEpsilon?: number; zeroStdRtol?: number },
): Float64Array {
  const out = Float64Array.from(rewards);
  if (p.groupBaseline) {
    const { baseline } = baselineAndStd(rewards, groups, false);
    for (let i = 0; i < out.length; i++) out[i] = out[i]! - baseline[i]!;
  }
  whitenInPlace(out, p.stdEpsilon ?? 0, p.zeroStdRtol ?? DEFAULT_ZERO_STD_RTOL);
  return out;
}
