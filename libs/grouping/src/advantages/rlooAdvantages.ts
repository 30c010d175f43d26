import { baselineAndStd, type GroupIndex, type RewardArray } from './groupStats';

/**
 * RLOO (Ahmadian et al. 2024): r_i minus the mean reward of the other samples of
 * its group, which equals n/(n-1) * (r_i - group mean) for a group of n valid
 * rewards. Missing (NaN) rewards get 0 and are not in any baseline.
 */
export function rlooAdvantages(rewards: RewardArray, groups: GroupIndex): Float64Array {
  const { baseline } = baselineAndStd(rewards, groups, true);
  const out = new Float64Array(rewards.length);
  for (let i = 0; i < rewards.length; i++) {
    const r = rewards[i]!;
    if (!Number.isNaN(r)) out[i] = r - baseline[i]!;
  }
  return out;
}
