import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, beforeAll } from 'vitest';
import { Rng } from '../base/rng';
import { TEST_BACKENDS, useBackend } from '../testing';
import { tokenEntropy, tokenLogProbs } from './tokenLogProbs';
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

function tokenLogProbsRef(x: Float64Array, targets: number[], v: number): Float64Array {
  const ls = logSoftmaxRef(x, targets.length, v);
  return Float64Array.from(targets, (t, i) => ls[i * v + t]);
}

describe.each(TEST_BACKENDS)('tokenLogProbs on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('picks log-softmax at the targets (hand-computed)', () => {
    const y = tf.tidy(() =>
      tokenLogProbs(
        tf.tensor2d([
          [0, Math.log(3)],
          [1, 1],
        ]),
        tf.tensor1d([1, 0], 'int32'),
      ),
    );
    expect(maxAbsDiff(y.dataSync(), [Math.log(0.75), Math.log(0.5)])).toBeLessThan(1e-6);
    y.dispose();
  });

  it('is stable for logits around 1e4', () => {
    const x = [10000, 10003, 9990, -10000];
    const y = tf.tidy(() => tokenLogProbs(tf.tensor2d([x]), tf.tensor1d([0], 'int32')));
    const want = tokenLogProbsRef(Float64Array.from(x), [0], 4);
    expect(Math.abs(y.dataSync()[0] - want[0])).toBeLessThan(2e-3);
    y.dispose();
  });

  it('gradient (onehot − softmax)·dy matches float64 finite differences', () => {
    const rng = new Rng(5);
    const [n, v] = [4, 9];
    const targets = [0, 8, 3, 3];
    const x = f32(randn(rng, n * v, 2));
    const r = f32(randn(rng, n));
    const [fd] = fdGrads((xs) => dot(tokenLogProbsRef(xs[0], targets, v), r), [x]);
    const xt = tf.tensor2d(Float32Array.from(x), [n, v]);
    const tt = tf.tensor1d(targets, 'int32');
    const [g] = tfGrads((xs) => tokenLogProbs(xs[0] as tf.Tensor2D, tt), [xt], r);
    tf.dispose([xt, tt]);
    expect(relErr(g, fd)).toBeLessThan(1e-3);
  });

  it('tokenEntropy: ln V for uniform rows, 0 for a one-hot-like row', () => {
    const h = tf.tidy(() =>
      tokenEntropy(
        tf.tensor2d([
          [1, 1, 1, 1],
          [0, 0, 0, 100],
        ]),
      ),
    );
    expect(maxAbsDiff(h.dataSync(), [Math.log(4), 0])).toBeLessThan(1e-5);
    h.dispose();
  });

  it('keeps numTensors flat over 50 forward+backward iterations', () => {
    const logits = tf.variable(tf.randomNormal([6, 11])) as tf.Variable<tf.Rank.R2>;
    const t = tf.tensor1d([0, 1, 2, 3, 4, 10], 'int32');
    const step = (): void => {
      const { value, grads } = tf.variableGrads(
        () => tf.neg(tf.sum(tokenLogProbs(logits, t))) as tf.Scalar,
        [logits],
      );
      tf.dispose([value, ...Object.values(grads)]);
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([logits, t]);
  });
});
