import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, beforeAll } from 'vitest';
import { Rng } from '../base/rng';
import { TEST_BACKENDS, useBackend } from '../testing';
import { layerNorm } from './layerNorm';
import { dot, f32, fdGrads, maxAbsDiff, randn, relErr, tfGrads } from './gradCheck.testkit';

function layerNormRef(
  x: Float64Array,
  g: Float64Array,
  b: Float64Array,
  d: number,
  eps: number,
): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / d; r++) {
    let mean = 0;
    for (let i = 0; i < d; i++) mean += x[r * d + i] / d;
    let v = 0;
    for (let i = 0; i < d; i++) v += (x[r * d + i] - mean) ** 2 / d;
    for (let i = 0; i < d; i++)
      y[r * d + i] = ((x[r * d + i] - mean) / Math.sqrt(v + eps)) * g[i] + b[i];
  }
  return y;
}

describe.each(TEST_BACKENDS)('layerNorm on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('matches hand-computed values', () => {
    // row [1, 3]: mean 2, variance 1 -> [-1, 1], then ·gamma + beta
    const y = tf.tidy(() =>
      layerNorm(tf.tensor2d([[1, 3]]), tf.tensor1d([2, 3]), tf.tensor1d([0.5, -1]), 0),
    );
    expect(maxAbsDiff(y.dataSync(), [-1.5, 2])).toBeLessThan(1e-6);
    y.dispose();
  });

  it('gradient (x, gamma, beta) matches float64 finite differences', () => {
    const rng = new Rng(8);
    const [n, d, eps] = [3, 5, 1e-5];
    const x = f32(randn(rng, n * d));
    const gm = f32(randn(rng, d));
    const bt = f32(randn(rng, d));
    const r = f32(randn(rng, n * d));
    const fd = fdGrads((xs) => dot(layerNormRef(xs[0], xs[1], xs[2], d, eps), r), [x, gm, bt]);
    const ts = [
      tf.tensor2d(Float32Array.from(x), [n, d]),
      tf.tensor1d(Float32Array.from(gm)),
      tf.tensor1d(Float32Array.from(bt)),
    ];
    const g = tfGrads(
      (xs) => layerNorm(xs[0], xs[1] as tf.Tensor1D, xs[2] as tf.Tensor1D, eps),
      ts,
      r,
    );
    tf.dispose(ts);
    for (let i = 0; i < 3; i++) expect(relErr(g[i], fd[i])).toBeLessThan(1e-3);
  });
});
