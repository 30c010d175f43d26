import {
  baselineAndStd,
  DEFAULT_ZERO_STD_RTOL,
  isZeroStd,
  momentStats,
  type GroupIndex,
  type RewardArray,
} from './groupStats';

/** Options read by {@link grpoAdvantages}. */
export interface GrpoAdvantageParams {
  leaveOneOut: boolean;
  scale: 'group' | 'batch' | 'none';
  stdEpsilon?: number;
  zeroStdRtol?: number;
}

/**
 * GRPO advantages: r - baseline, divided by the group std (`group`), by the std of
 * all rewards in the batch (`batch`) or by nothing (`none`). The division is
 * skipped where that std is zero or a float32 residue of zero, so a group of
 * equal rewards gets advantage 0 instead of noise. Missing (NaN) rewards get 0.
 */
export function grpoAdvantages(
  rewards: RewardArray,
  groups: GroupIndex,
  p: GrpoAdvantageParams,
): Float64Array {
  const eps = p.stdEpsilon ?? 0;
  const rtol = p.zeroStdRtol ?? DEFAULT_ZERO_STD_RTOL;
  const { baseline, std, zeroStd } = baselineAndStd(rewards, groups, p.leaveOneOut, rtol);
  const out = new Float64Array(rewards.length);
  let batchStd = 0;
  let batchZero = true;
  if (p.scale === 'batch') {
    const s = momentStats(rewards);
    batchStd = s.std;
    batchZero = isZeroStd(s.std, s.scale, rtol);
  }
  for (let i = 0; i < rewards.length; i++) {
    const r = rewards[i]!;
    if (Number.isNaN(r)) continue;
    const centred = r - baseline[i]!;
    if (p.scale === 'group') out[i] = zeroStd[i] ? centred : centred / (std[i]! + eps);
    else if (p.scale === 'batch') out[i] = batchZero ? centred : centred / (batchStd + eps);
    else out[i] = centred;
  }
  return out;
}
