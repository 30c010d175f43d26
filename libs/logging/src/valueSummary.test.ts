import { describe, expect, it } from 'vitest';
import { summarizeValues } from './valueSummary';

describe('summarizeValues', () => {
  it('mean, population std, min, max of [1, 0, 0.5, 1] skipping NaN and ±Infinity', () => {
    const s = summarizeValues([1, 0, NaN, 0.5, Infinity, 1]);
    expect(s.count).toBe(4);
    expect(s.mean).toBeCloseTo(0.625, 12);
    // deviations 0.375, −0.625, −0.125, 0.375 → Σ² 0.6875 / 4
    expect(s.std).toBeCloseTo(Math.sqrt(0.6875 / 4), 12);
    expect([s.min, s.max]).toEqual([0, 1]);
  });

  it('NaN everywhere when nothing is finite; std 0 for one value', () => {
    expect(summarizeValues([NaN])).toEqual({ mean: NaN, std: NaN, min: NaN, max: NaN, count: 0 });
    expect(summarizeValues(new Float32Array([2]))).toEqual({
      mean: 2,
      std: 0,
      min: 2,
      max: 2,
      count: 1,
    });
  });
});
