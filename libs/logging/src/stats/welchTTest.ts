import { studentTQuantile, studentTTwoSided } from './studentT';

/** Mean, sample standard deviation (n − 1) and count of some values. */
export interface SampleSummary {
  n: number;
  mean: number;
  /** sample standard deviation (divisor n − 1); NaN for one value */
  sd: number;
}

export function summarizeSample(xs: readonly number[]): SampleSummary {
  const n = xs.length;
  const mean = n === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / n;
  const sd = n < 2 ? NaN : Math.sqrt(xs.reduce((a, x) => a + (x - mean) * (x - mean), 0) / (n - 1));
  return { n, mean, sd };
}

/**
 * The two-sided confidence interval of a mean from a sample, mean ± t(1−α/2, n−1)·sd/√n
 * (Student's t); half-width NaN with fewer than two values.
 */
export function meanConfidenceInterval(
  xs: readonly number[],
  level = 0.95,
): { mean: number; halfWidth: number; low: number; high: number; n: number } {
  const s = summarizeSample(xs);
  const halfWidth =
    s.n < 2 ? NaN : studentTQuantile(1 - (1 - level) / 2, s.n - 1) * (s.sd / Math.sqrt(s.n));
  return { mean: s.mean, halfWidth, low: s.mean - halfWidth, high: s.mean + halfWidth, n: s.n };
}

/** What {@link welchTTest} found. */
export interface WelchResult {
  /** mean(a) − mean(b) */
  difference: number;
  /** t = difference / √(s²a/na + s²b/nb) */
  t: number;
  /** Welch–Satterthwaite degrees of freedom */
  df: number;
  /** two-sided p-value; NaN when undefined (fewer than two values on a side, or no variance at all) */
  p: number;
}

/**
 * Welch's unequal-variances t-test of mean(a) = mean(b): t with the
 * Welch–Satterthwaite degrees of freedom df = (va/na + vb/nb)² / ((va/na)²/(na−1) +
 * (vb/nb)²/(nb−1)), two-sided p from Student's t. Two samples with zero variance
 * and different means give p = 0 (t infinite); with equal means, NaN.
 */
export function welchTTest(a: readonly number[], b: readonly number[]): WelchResult {
  const sa = summarizeSample(a);
  const sb = summarizeSample(b);
  const difference = sa.mean - sb.mean;
  if (sa.n < 2 || sb.n < 2) return { difference, t: NaN, df: NaN, p: NaN };
  const qa = (sa.sd * sa.sd) / sa.n;
  const qb = (sb.sd * sb.sd) / sb.n;
  const se2 = qa + qb;
  if (se2 === 0)
    return difference === 0
      ? { difference, t: NaN, df: NaN, p: NaN }
      : { difference, t: Math.sign(difference) * Infinity, df: NaN, p: 0 };
  const t = difference / Math.sqrt(se2);
  const df = (se2 * se2) / ((qa * qa) / (sa.n - 1) + (qb * qb) / (sb.n - 1));
  return { difference, t, df, p: studentTTwoSided(t, df) };
}
