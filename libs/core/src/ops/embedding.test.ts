import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, beforeAll } from 'vitest';
import { TEST_BACKENDS, useBackend } from '../testing';
import { embedding } from './embedding';

describe.each(TEST_BACKENDS)('embedding on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('looks up rows of the table', () => {
    const y = tf.tidy(() =>
      embedding(
        tf.tensor2d([
          [0, 1],
          [2, 3],
          [4, 5],
        ]),
        tf.tensor1d([2, 0, 2], 'int32'),
      ),
    );
    expect(Array.from(y.dataSync())).toEqual([4, 5, 0, 1, 4, 5]);
    y.dispose();
  });

  it('gradient scatters output gradients into the rows used, accumulating repeated ids', () => {
    // L = Σ y ⊙ r, so dL/dtable[v] = Σ_{i: ids[i] = v} r[i] — exact, no finite differences needed
    const table = tf.tensor2d([
      [0, 1],
      [2, 3],
      [4, 5],
      [6, 7],
    ]);
    const ids = tf.tensor1d([2, 0, 2, 3], 'int32');
    const r = tf.tensor2d([
      [1, 2],
      [3, 4],
      [5, 6],
      [7, 8],
    ]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(embedding(t as tf.Tensor2D, ids), r)))(table);
    expect(Array.from(g.dataSync())).toEqual([3, 4, 0, 0, 6, 8, 7, 8]);
    tf.dispose([table, ids, r, g]);
  });

  it('rejects float ids', () => {
    const table = tf.zeros([3, 2]) as tf.Tensor2D;
    const ids = tf.tensor1d([0, 1]);
    expect(() => embedding(table, ids)).toThrow(/embedding: expected ids as a 1-D int32 tensor/);
    tf.dispose([table, ids]);
  });

  it('keeps numTensors flat over 50 forward+backward iterations', () => {
    const table = tf.variable(tf.randomNormal([16, 4])) as tf.Variable<tf.Rank.R2>;
    const ids = tf.tensor1d([1, 5, 5, 9], 'int32');
    const step = (): void => {
      const { value, grads } = tf.variableGrads(
        () => tf.sum(tf.square(embedding(table, ids))) as tf.Scalar,
        [table],
      );
      tf.dispose([value, ...Object.values(grads)]);
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([table, ids]);
  });
});
