import { DEFAULT_ZERO_STD_RTOL, isZeroStd, momentStats } from './groupStats';

/**
 * Whitens `values` in place over the whole batch: (a - mean) / (std + epsilon),
 * with the Bessel-corrected std over the non-NaN entries. When that std is zero
 * or a float32 residue of zero the values are only centred. NaN entries become 0.
 * Returns the mean and std that were used.
 */
export function whitenInPlace(
  values: Float64Array,
  epsilon = 0,
  zeroStdRtol: number = DEFAULT_ZERO_STD_RTOL,
): { mean: number; std: number } {
  const s = momentStats(values);
  const divide = !isZeroStd(s.std, s.scale, zeroStdRtol);
  for (let i = 0; i < values.length; i++) {
    const a = values[i]!;
    if (Number.isNaN(a)) {
      values[i] = 0;
      continue;
    }
    values[i] = divide ? (a - s.mean) / (s.std + epsilon) : a - s.mean;
  }
  return { mean: s.mean, std: s.std };
}
