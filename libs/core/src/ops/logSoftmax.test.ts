import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, beforeAll } from 'vitest';
import { Rng } from '../base/rng';
import { TEST_BACKENDS, useBackend } from '../testing';
import { logSoftmax } from './logSoftmax';
import {
  dot,
  f32,
  fdGrads,
  logSoftmaxRef,
  maxAbsDiff,
  randn,
  relErr,
  tfGrads,
} from './gradCheck.testkit';

describe.each(TEST_BACKENDS)('logSoftmax on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('matches hand-computed values', () => {
    const y = tf.tidy(() => logSoftmax(tf.tensor2d([[0, Math.log(3)]])));
    // softmax = [1/4, 3/4]
    expect(maxAbsDiff(y.dataSync(), [Math.log(0.25), Math.log(0.75)])).toBeLessThan(1e-6);
    y.dispose();
  });

  it('the gradient of a rank-3 input reduces its last axis (float64 finite differences)', () => {
    const rng = new Rng(53);
    const x = f32(randn(rng, 2 * 3 * 4));
    const r = f32(randn(rng, 2 * 3 * 4));
    // [2, 3, 4] row-major is 6 rows of 4 along the last axis
    const fd = fdGrads((xs) => dot(logSoftmaxRef(xs[0], 6, 4), r), [x]);
    const xt = tf.tensor3d(Float32Array.from(x), [2, 3, 4]);
    const [g] = tfGrads((xs) => logSoftmax(xs[0]), [xt], r);
    xt.dispose();
    expect(relErr(g, fd[0])).toBeLessThan(1e-4);
  });

  it('is stable for logits around 1e4', () => {
    const y = tf.tidy(() =>
      logSoftmax(
        tf.tensor2d([
          [10000, 10001, 9990],
          [-10000, -10000, -10000],
        ]),
      ),
    );
    const want = logSoftmaxRef(
      Float64Array.from([10000, 10001, 9990, -10000, -10000, -10000]),
      2,
      3,
    );
    const got = y.dataSync();
    expect(got.every(Number.isFinite)).toBe(true);
    // float32 spacing at 1e4 is ~1e-3, so agreement to 2e-3 is full precision there
    expect(maxAbsDiff(got, want)).toBeLessThan(2e-3);
    y.dispose();
  });

  it('gradient matches float64 finite differences', () => {
    const rng = new Rng(3);
    const [n, v] = [3, 7];
    const x = f32(randn(rng, n * v, 2));
    const r = f32(randn(rng, n * v));
    const [fd] = fdGrads((xs) => dot(logSoftmaxRef(xs[0], n, v), r), [x]);
    const xt = tf.tensor2d(Float32Array.from(x), [n, v]);
    const [g] = tfGrads((xs) => logSoftmax(xs[0]), [xt], r);
    xt.dispose();
    expect(relErr(g, fd)).toBeLessThan(1e-3);
  });
});
