import { describe, expect, it } from 'vitest';
import { RxrlError } from '@rxrl/core/base';
import { assertFinite, NonFiniteError, nonFiniteMetricKey, onNonFiniteSchema } from './nonFinite';

describe('assertFinite', () => {
  it('passes finite metrics, including 0 and large values', () => {
    expect(() => assertFinite({ loss: 0, grad_norm: 1e30, lr: -3 })).not.toThrow();
  });

  it('names the first non-finite metric in key order, with its value', () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      let caught: unknown;
      try {
        assertFinite({ loss: 1, grad_norm: bad, other: NaN }, ['loss', 'grad_norm', 'other']);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(NonFiniteError);
      expect(caught).toBeInstanceOf(RxrlError);
      const err = caught as NonFiniteError;
      expect(err.metric).toBe('grad_norm');
      expect(Object.is(err.value, bad)).toBe(true);
      expect(err.message).toBe(`non-finite grad_norm (${String(bad)}); the update was not applied`);
    }
  });

  it('ignores keys it was not asked about and absent keys', () => {
    expect(() => assertFinite({ loss: 1, noise: NaN }, ['loss', 'grad_norm'])).not.toThrow();
  });

  it('atStep tags the step in the message', () => {
    const e = new NonFiniteError('loss', NaN).atStep(3);
    expect(e.step).toBe(3);
    expect(e.message).toBe('non-finite loss (NaN) at step 3; the update was not applied');
  });

  it('policy schema and metric key', () => {
    expect(onNonFiniteSchema.parse('skip_step')).toBe('skip_step');
    expect(onNonFiniteSchema.safeParse('skip').success).toBe(false);
    expect(nonFiniteMetricKey('loss')).toBe('train/nonfinite/loss');
  });
});
