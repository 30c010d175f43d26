import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, beforeAll } from 'vitest';
import { Rng } from '../base/rng';
import { TEST_BACKENDS, useBackend } from '../testing';
import { rmsNorm } from './rmsNorm';
import { dot, f32, fdGrads, maxAbsDiff, randn, relErr, tfGrads } from './gradCheck.testkit';

function rmsNormRef(x: Float64Array, w: Float64Array, d: number, eps: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / d; r++) {
    let ms = 0;
    for (let i = 0; i < d; i++) ms += x[r * d + i] ** 2;
    const inv = 1 / Math.sqrt(ms / d + eps);
    for (let i = 0; i < d; i++) y[r * d + i] = x[r * d + i] * inv * w[i];
  }
  return y;
}

describe.each(TEST_BACKENDS)('rmsNorm on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('matches hand-computed values', () => {
    // row [3, 4]: mean square 12.5, so y = x / sqrt(12.5) * w
    const y = tf.tidy(() => rmsNorm(tf.tensor2d([[3, 4]]), tf.tensor1d([1, 2]), 0));
    const s = Math.sqrt(12.5);
    expect(maxAbsDiff(y.dataSync(), [3 / s, 8 / s])).toBeLessThan(1e-6);
    y.dispose();
  });

  it('adds eps to the mean square: a row at the scale of eps is not blown up', () => {
    // row [1e-3, −1e-3]: mean square 1e-6; with eps 1e-6, y = x / sqrt(2e-6) = ±0.7071068 (±1 without eps)
    const y = tf.tidy(() => rmsNorm(tf.tensor2d([[1e-3, -1e-3]]), tf.tensor1d([1, 1]), 1e-6));
    expect(maxAbsDiff(y.dataSync(), [Math.SQRT1_2, -Math.SQRT1_2])).toBeLessThan(1e-4);
    y.dispose();
  });

  it('gradient (x and weight, rank-4 input) matches float64 finite differences', () => {
    const rng = new Rng(7);
    const shape = [2, 2, 2, 4];
    const d = 4;
    const eps = 1e-6;
    const x = f32(randn(rng, 32));
    const w = f32(randn(rng, d));
    const r = f32(randn(rng, 32));
    const fd = fdGrads((xs) => dot(rmsNormRef(xs[0], xs[1], d, eps), r), [x, w]);
    const ts = [tf.tensor(Float32Array.from(x), shape), tf.tensor1d(Float32Array.from(w))];
    const g = tfGrads((xs) => rmsNorm(xs[0], xs[1] as tf.Tensor1D, eps), ts, r);
    tf.dispose(ts);
    expect(relErr(g[0], fd[0])).toBeLessThan(1e-3);
    expect(relErr(g[1], fd[1])).toBeLessThan(1e-3);
  });
});
