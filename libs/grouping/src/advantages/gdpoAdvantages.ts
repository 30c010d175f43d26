import { DEFAULT_ZERO_STD_RTOL, type GroupIndex, type RewardArray } from './groupStats';
import { grpoAdvantages } from './grpoAdvantages';
import { whitenInPlace } from './whiten';

/**
 * GDPO (Liu et al. 2026, arXiv 2601.05242): with several reward components, GRPO's
 * normalisation of their sum collapses distinct reward combinations onto the same
 * advantage. GDPO instead normalises each component within its group, sums the
 * per-component advantages with `weights`, then normalises the sum over the whole
 * batch. A NaN component of a sample is left out of that component's group
 * statistics and contributes 0 (TRL's nansum); a sample with every component NaN
 * gets advantage 0.
 */
export function gdpoAdvantages(
  components: readonly RewardArray[],
  groups: GroupIndex,
  p: {
    weights?: readonly number[] | null;
    scale: 'group' | 'batch' | 'none';
    stdEpsilon?: number;
    zeroStdRtol?: number;
  },
): Float64Array {
  if (components.length === 0) throw new RangeError('gdpo needs at least one reward component');
  const n = components[0]!.length;
  const weights = p.weights ?? components.map(() => 1);
  if (weights.length !== components.length) {
    throw new RangeError(
      `reward_weights has ${weights.length} entries but there are ${components.length} reward components`,
    );
  }
  const rtol = p.zeroStdRtol ?? DEFAULT_ZERO_STD_RTOL;
  const sum = new Float64Array(n);
  const anyValid = new Uint8Array(n);
  components.forEach((c, k) => {
    if (c.length !== n)
      throw new RangeError(`reward component ${k} has length ${c.length}, expected ${n}`);
    const a = grpoAdvantages(c, groups, {
      leaveOneOut: false,
      scale: p.scale,
      stdEpsilon: p.stdEpsilon,
      zeroStdRtol: rtol,
    });
    for (let i = 0; i < n; i++) {
      if (Number.isNaN(c[i]!)) continue;
      anyValid[i] = 1;
      sum[i] = sum[i]! + weights[k]! * a[i]!;
    }
  });
  for (let i = 0; i < n; i++) if (!anyValid[i]) sum[i] = Number.NaN;
  whitenInPlace(sum, p.stdEpsilon ?? 0, rtol);
  return sum;
}
