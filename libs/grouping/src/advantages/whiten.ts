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

/** NeMo RL's floor on the variance of REINFORCE++ whitening: divide by sqrt(max(var, 1e-8)). */
export const WHITEN_VAR_FLOOR = 1e-8;

/**
 * Token-weighted whitening, as NeMo RL's REINFORCE++ estimator normalises a
 * per-sample advantage broadcast over its valid tokens: with n_i = `weights[i]`
 * (the sample's valid completion tokens; 1 each when omitted), mean =
 * Σ n_i·a_i / Σ n_i, biased variance = Σ n_i·(a_i − mean)² / Σ n_i, and
 * a ← (a − mean) / (sqrt(max(var, 1e-8)) + epsilon). NaN entries (missing
 * rewards) take no part and become 0. A std that is zero or a float32 residue
 * of zero (the zero-std rule) only centres, where NeMo RL would divide by 1e-4.
 */
export function whitenWeightedInPlace(
  values: Float64Array,
  weights?: ArrayLike<number>,
  epsilon = 0,
  zeroStdRtol: number = DEFAULT_ZERO_STD_RTOL,
): { mean: number; std: number } {
  if (weights && weights.length !== values.length) {
    throw new RangeError(
      `token counts have length ${weights.length} but advantages have length ${values.length}`,
    );
  }
  const n = values.length;
  let wSum = 0;
  let sum = 0;
  let scale = 0;
  for (let i = 0; i < n; i++) {
    const a = values[i]!;
    if (Number.isNaN(a)) continue;
    const w = weights ? weights[i]! : 1;
    wSum += w;
    sum += w * a;
    if (w > 0 && Math.abs(a) > scale) scale = Math.abs(a);
  }
  const mean = wSum > 0 ? sum / wSum : 0;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const a = values[i]!;
    if (Number.isNaN(a)) continue;
    ss += (weights ? weights[i]! : 1) * (a - mean) * (a - mean);
  }
  const std = wSum > 0 ? Math.sqrt(ss / wSum) : 0;
  const divide = !isZeroStd(std, scale, zeroStdRtol);
  const den = Math.sqrt(Math.max(std * std, WHITEN_VAR_FLOOR)) + epsilon;
  for (let i = 0; i < n; i++) {
    const a = values[i]!;
    values[i] = Number.isNaN(a) ? 0 : divide ? (a - mean) / den : a - mean;
  }
  return { mean, std };
}
