/** Mean, population standard deviation, min and max of the finite values; NaN for each when there are none. */
export interface ValueSummary {
  mean: number;
  std: number;
  min: number;
  max: number;
  /** finite values counted (NaN / ±Infinity, e.g. an unscored reward, are skipped) */
  count: number;
}

/**
 * Summary of a step's per-sample values (rewards, lengths) for the metrics next to
 * their mean: a mean that holds still while min and max collapse to one value is a
 * reward that stopped separating the samples.
 */
export function summarizeValues(xs: ArrayLike<number>): ValueSummary {
  let n = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!;
    if (!Number.isFinite(x)) continue;
    n++;
    sum += x;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  if (n === 0) return { mean: NaN, std: NaN, min: NaN, max: NaN, count: 0 };
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!;
    if (Number.isFinite(x)) ss += (x - mean) ** 2;
  }
  return { mean, std: Math.sqrt(ss / n), min, max, count: n };
}
