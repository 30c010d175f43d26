// The guards of the masked reductions: an all-masked batch gives 0 (not NaN),
// non-finite log-probs become 0 with no gradient, detached values have zero
// gradient. Hand values.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@rxrl/core';
import {
  constant,
  expectShape,
  finiteOrZero,
  logSigmoid,
  maskedMean,
  metric,
  nanToZero,
  NORM_EPS,
  perRow,
  rowMaskedMean,
  stopGradient,
} from './masked';
import { t1, t2 } from '../test/helpers';

const read = (t: tf.Tensor) => Array.from(t.dataSync());

describe('masked reductions', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });

  it('maskedMean: Σ v·m / (Σ m + 1e-8); a fully masked batch is 0, not NaN', () => {
    tf.tidy(() => {
      const v = t2([
        [1, 2],
        [3, 4],
      ]);
      expect(
        maskedMean(
          v,
          t2([
            [1, 0],
            [0, 1],
          ]),
        ).dataSync()[0],
      ).toBeCloseTo(2.5, 6);
      expect(
        read(
          maskedMean(
            v,
            t2([
              [0, 0],
              [0, 0],
            ]),
          ),
        ),
      ).toEqual([0]);
      // a global count replaces the mask's own sum
      expect(
        maskedMean(
          v,
          t2([
            [1, 0],
            [0, 1],
          ]),
          10,
        ).dataSync()[0],
      ).toBeCloseTo(0.5, 6);
      expect(
        maskedMean(
          v,
          t2([
            [1, 1],
            [0, 0],
          ]),
          tf.scalar(6),
        ).dataSync()[0],
      ).toBeCloseTo(0.5, 6);
    });
  });

  it('the normalising epsilon is 1e-8: a mask of weight 1e-8 halves the mean', () => {
    expect(NORM_EPS).toBe(1e-8);
    tf.tidy(() => {
      // 3·1e-8 / (1e-8 + 1e-8) = 1.5; an epsilon of 0 would give 3, one of 1e-6 about 0.03
      expect(maskedMean(t1([3]), t1([1e-8])).dataSync()[0]).toBeCloseTo(1.5, 4);
      expect(rowMaskedMean(t2([[3]]), t2([[1e-8]])).dataSync()[0]).toBeCloseTo(1.5, 4);
    });
  });

  it('rowMaskedMean: per-row mean over the last axis; an all-masked row is 0', () => {
    tf.tidy(() => {
      const r = rowMaskedMean(
        t2([
          [1, 2, 6],
          [5, 5, 5],
          [-1, 7, 0],
        ]),
        t2([
          [1, 0, 1],
          [0, 0, 0],
          [0, 1, 0],
        ]),
      );
      expect(r.shape).toEqual([3]);
      const [a, b, c] = read(r);
      expect(a).toBeCloseTo(3.5, 6);
      expect(b).toBe(0);
      expect(c).toBeCloseTo(7, 6);
    });
  });

  it('nanToZero: NaN, +∞ and −∞ become 0, finite values stay; the gradient is 0', () => {
    tf.tidy(() => {
      const x = t1([Number.NaN, Infinity, -Infinity, -2.5, 0]);
      expect(read(nanToZero(x))).toEqual([0, 0, 0, -2.5, 0]);
      const g = tf.grad((v: tf.Tensor) => tf.sum(nanToZero(tf.mul(v, 3))))(t1([1, 2]));
      expect(read(g)).toEqual([0, 0]);
    });
  });

  it('finiteOrZero: −∞ log-probs become 0 and pass no gradient; finite ones keep theirs', () => {
    tf.tidy(() => {
      const x = t1([-Infinity, -1.5, Number.NaN, 2]);
      expect(read(finiteOrZero(x))).toEqual([0, -1.5, 0, 2]);
      // d/dx Σ finiteOrZero(3x) = 3 where x is finite, 0 where it is not
      const g = tf.grad((v: tf.Tensor) => tf.sum(finiteOrZero(tf.mul(v, 3))))(
        t1([-Infinity, -1.5, 2]),
      );
      expect(read(g)).toEqual([0, 3, 3]);
    });
  });

  it('stopGradient and constant: same value, zero gradient to every input', () => {
    tf.tidy(() => {
      const g = tf.grad((v: tf.Tensor) => tf.sum(tf.add(stopGradient(tf.square(v)), v)))(
        t1([3, -1]),
      );
      expect(read(g)).toEqual([1, 1]); // only the un-detached v
      const [ga, gb] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(constant((x, y) => tf.mul(x, y), a, b)),
      )([t1([2]), t1([5])]);
      expect(read(ga!)).toEqual([0]);
      expect(read(gb!)).toEqual([0]);
      expect(read(constant(() => tf.scalar(7)))).toEqual([7]);
      // a function that returns its input is copied, not aliased
      const x = t1([4]);
      const y = constant((v) => v, x);
      expect(y).not.toBe(x);
      expect(read(y)).toEqual([4]);
    });
  });

  it('metric is a detached scalar; perRow lifts [B] to [B, 1]', () => {
    tf.tidy(() => {
      const x = t2([[1, 2, 3]]);
      const m = metric(() => tf.sum(x), x);
      expect(m.shape).toEqual([]);
      expect(read(m)).toEqual([6]);
      expect(perRow(t1([1, 2])).shape).toEqual([2, 1]);
      const already = t2([[1], [2]]);
      expect(perRow(already)).toBe(already);
    });
  });

  it('logSigmoid: −softplus(−x), finite far out, gradient σ(−x)', () => {
    tf.tidy(() => {
      const [a, b, c] = read(logSigmoid(t1([0, -100, 100])));
      expect(a).toBeCloseTo(-Math.LN2, 6);
      expect(b).toBeCloseTo(-100, 4);
      expect(c).toBeCloseTo(0, 6);
      const g = tf.grad((v: tf.Tensor) => tf.sum(logSigmoid(v)))(t1([0, 2]));
      const [g0, g1] = read(g);
      expect(g0).toBeCloseTo(0.5, 6);
      expect(g1).toBeCloseTo(1 / (1 + Math.exp(2)), 6);
    });
  });

  it('expectShape names the tensor and both shapes; undefined passes', () => {
    tf.tidy(() => {
      expect(() => expectShape('mask', t2([[1, 2]]), [1, 3])).toThrow(
        'mask: expected shape [1, 3], got [1, 2]',
      );
      expect(() => expectShape('mask', t1([1, 2]), [1, 2])).toThrow(
        'mask: expected shape [1, 2], got [2]',
      );
      // same sizes, different rank
      expect(() => expectShape('mask', t1([5]), [1, 1])).toThrow(
        'mask: expected shape [1, 1], got [1]',
      );
      expect(() => expectShape('mask', t1([5]), [1])).not.toThrow();
      expect(() => expectShape('mask', undefined, [1])).not.toThrow();
      expect(() => expectShape('mask', t2([[1, 2]]), [1, 2])).not.toThrow();
    });
  });
});
