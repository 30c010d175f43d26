import { describe, expect, it } from 'vitest';
import { tokenMultProbError } from './tokenMultProbError';

describe('tokenMultProbError (hand values)', () => {
  it('averages exp(|Δ log p|) over valid tokens', () => {
    expect(tokenMultProbError([-1, -2], [-1.5, -2])).toBeCloseTo((Math.exp(0.5) + 1) / 2, 12);
    expect(tokenMultProbError([-1, -2, -3], [-1.5, -2, -9], [1, 1, 0])).toBeCloseTo(
      (Math.exp(0.5) + 1) / 2,
      12,
    );
    expect(tokenMultProbError(Float32Array.of(-0.1), Float32Array.of(-0.1))).toBe(1);
  });

  it('is NaN with no valid token and rejects misaligned inputs', () => {
    expect(tokenMultProbError([-1], [-2], [0])).toBeNaN();
    expect(() => tokenMultProbError([-1, -2], [-1])).toThrow(
      /2 generation log-probs vs 1 training/,
    );
    expect(() => tokenMultProbError([-1], [-1], [1, 1])).toThrow(/mask has 2 entries/);
  });
});
