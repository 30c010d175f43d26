import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { TEST_BACKENDS, useBackend } from '../testing';
import { residualAdd } from './residualAdd';

describe.each(TEST_BACKENDS)('residualAdd on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('equals tf.add in value and gradients, keeping neither operand on the tape', () => {
    const a = tf.tensor2d([
      [1, -2, 3],
      [0.5, 4, -1],
    ]);
    const b = tf.tensor2d([
      [0.25, 1, -3],
      [2, -4, 7],
    ]);
    const w = tf.tensor2d([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const f = (add: (x: tf.Tensor, y: tf.Tensor) => tf.Tensor) =>
      tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.square(add(x, y)), w)))([a, b]);
    const got = f(residualAdd);
    const ref = f(tf.add);
    for (let i = 0; i < 2; i++) expect(got[i]!.arraySync()).toEqual(ref[i]!.arraySync());
    expect(residualAdd(a, b).arraySync()).toEqual(tf.add(a, b).arraySync());
    // a broadcast is tf.add's job: residualAdd refuses it
    expect(() => residualAdd(a, tf.ones([3]) as unknown as tf.Tensor2D)).toThrow(/one shape/);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 10; i++) tf.dispose(f(residualAdd));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b, w, ...got, ...ref]);
  });
});
