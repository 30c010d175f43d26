import { describe, expect, it } from 'vitest';
import {
  logGamma,
  regularizedBeta,
  studentTCdf,
  studentTQuantile,
  studentTTwoSided,
} from './studentT';
import { meanConfidenceInterval, welchTTest } from './welchTTest';

describe('Student t', () => {
  it('logGamma matches factorials and Γ(1/2) = √π', () => {
    expect(logGamma(1)).toBeCloseTo(0, 12);
    expect(logGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 12);
    expect(logGamma(30)).toBeCloseTo(Math.log(8.841761993739701e30), 10);
  });

  it('I_x(a, b) against closed forms: I_x(a, 1) = x^a, I_x(1, b) = 1 − (1−x)^b, I_x(1/2, 1/2) = (2/π)·asin √x', () => {
    for (const x of [0.05, 0.3, 0.5, 0.77, 0.99]) {
      expect(regularizedBeta(x, 3.5, 1)).toBeCloseTo(x ** 3.5, 12);
      expect(regularizedBeta(x, 1, 4.2)).toBeCloseTo(1 - (1 - x) ** 4.2, 12);
      expect(regularizedBeta(x, 0.5, 0.5)).toBeCloseTo((2 / Math.PI) * Math.asin(Math.sqrt(x)), 12);
    }
  });

  it('the CDF against closed forms for 1 and 2 degrees of freedom', () => {
    for (const t of [-7, -1.3, 0, 0.4, 2.5, 40]) {
      // Cauchy: 1/2 + atan(t)/π; ν = 2: 1/2 + t / (2√(2 + t²))
      expect(studentTCdf(t, 1)).toBeCloseTo(0.5 + Math.atan(t) / Math.PI, 12);
      expect(studentTCdf(t, 2)).toBeCloseTo(0.5 + t / (2 * Math.sqrt(2 + t * t)), 12);
    }
  });

  it('critical values of the printed t table give their tail probabilities', () => {
    // two-sided 0.05 at t(0.975, ν): 12.706 (1), 4.303 (2), 2.571 (5), 2.228 (10), 2.086 (20), 2.042 (30)
    const table: [number, number][] = [
      [1, 12.7062047],
      [2, 4.30265273],
      [5, 2.57058184],
      [10, 2.22813885],
      [20, 2.08596345],
      [30, 2.04227246],
    ];
    for (const [df, t] of table) {
      expect(studentTTwoSided(t, df)).toBeCloseTo(0.05, 7);
      expect(studentTQuantile(0.975, df)).toBeCloseTo(t, 6);
    }
    // one-sided 0.005 at t(0.995, 20) = 2.845; 0.05 at t(0.95, 30) = 1.697
    expect(1 - studentTCdf(2.84533971, 20)).toBeCloseTo(0.005, 8);
    expect(1 - studentTCdf(1.69726089, 30)).toBeCloseTo(0.05, 8);
    // fractional ν, large ν (→ normal: 1.959964 at 0.975)
    expect(studentTCdf(1.5, 3)).toBeCloseTo(0.8847080673775886, 10);
    expect(studentTCdf(-0.7, 7.5)).toBeCloseTo(0.2525278109369252, 10);
    expect(studentTQuantile(0.975, 1e7)).toBeCloseTo(1.959964, 5);
  });
});

describe("Welch's t-test", () => {
  it('gives the published p-values (values from scipy.stats.ttest_ind(a, b, equal_var=False))', () => {
    // Wikipedia's first Welch example: t = −2.46, ν = 24.99, p = 0.021
    const a1 = [
      27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4,
    ];
    const a2 = [
      27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4,
    ];
    const w = welchTTest(a1, a2);
    expect(w.t).toBeCloseTo(-2.455356398286006, 10);
    expect(w.df).toBeCloseTo(24.988529290231416, 9);
    expect(w.p).toBeCloseTo(0.021378001462866992, 10);
    // three seeds a side, as `rxrl compare` sees them
    const s = welchTTest([0.61, 0.58, 0.64], [0.52, 0.55, 0.5]);
    expect(s.t).toBeCloseTo(3.833490860027322, 10);
    expect(s.df).toBeCloseTo(3.88256880733945, 10);
    expect(s.p).toBeCloseTo(0.019616297227163598, 10);
    // unequal sizes and variances, not significant
    const u = welchTTest([1, 2, 3, 4], [2.5, 3.5, 10]);
    expect(u.p).toBeCloseTo(0.3513787954757533, 10);
    expect(u.df).toBeCloseTo(2.3041432919926543, 10);
  });

  it('is undefined with one value a side, certain with no variance and different means', () => {
    expect(welchTTest([1], [2, 3]).p).toBeNaN();
    expect(welchTTest([1, 1], [2, 2]).p).toBe(0);
    expect(welchTTest([1, 1], [1, 1]).p).toBeNaN();
  });

  it('confidence interval of a mean: mean ± t(0.975, n−1)·sd/√n', () => {
    const ci = meanConfidenceInterval([0.61, 0.58, 0.64]);
    // sd = 0.03, t(0.975, 2) = 4.302653: half-width 0.03·4.302653/√3
    expect(ci.mean).toBeCloseTo(0.61, 12);
    expect(ci.halfWidth).toBeCloseTo((0.03 * 4.30265273) / Math.sqrt(3), 7);
    expect(meanConfidenceInterval([3]).halfWidth).toBeNaN();
  });
});
