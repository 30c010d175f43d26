import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@rxrl/core';
import { GradientAccumulator } from './gradientAccumulator';

describe('GradientAccumulator', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });

  it('summed micro-batch gradients of a globally normalised loss equal the full-batch gradient', () => {
    // loss = sum_i (w . x_i + b - y_i)^2 / N over N = 6 samples, in micro-batches of 2
    const X = [
      [1, 2],
      [0.5, -1],
      [-2, 0.25],
      [3, 1],
      [0, -0.5],
      [1.5, 1.5],
    ];
    const Y = [1, -1, 0.5, 2, 0, -0.5];
    const w0 = [0.3, -0.2];
    const b0 = 0.1;
    const w = tf.variable(tf.tensor1d(w0), true, 'acc_test/w');
    const b = tf.variable(tf.scalar(b0), true, 'acc_test/b');
    const N = X.length;
    const acc = new GradientAccumulator();
    for (let s = 0; s < N; s += 2) {
      const x = tf.tensor2d(X.slice(s, s + 2));
      const y = tf.tensor1d(Y.slice(s, s + 2));
      const { value, grads } = tf.variableGrads(
        () =>
          tf.div(
            tf.sum(
              tf.square(tf.sub(tf.add(tf.squeeze(tf.matMul(x, tf.reshape(w, [2, 1])), [1]), b), y)),
            ),
            N,
          ) as tf.Scalar,
        [w, b],
      );
      acc.add(grads, { dispose: true });
      tf.dispose([x, y, value]);
    }
    expect(acc.count).toBe(3);
    // analytic gradient in float64: d/dw = 2/N sum r_i x_i, d/db = 2/N sum r_i
    const gw = [0, 0];
    let gb = 0;
    X.forEach((x, i) => {
      const r = w0[0]! * x[0]! + w0[1]! * x[1]! + b0 - Y[i]!;
      gw[0] += (2 / N) * r * x[0]!;
      gw[1] += (2 / N) * r * x[1]!;
      gb += (2 / N) * r;
    });
    const sums = acc.peek();
    const got = sums['acc_test/w']!.dataSync();
    expect(got[0]).toBeCloseTo(gw[0]!, 5);
    expect(got[1]).toBeCloseTo(gw[1]!, 5);
    expect(sums['acc_test/b']!.dataSync()[0]).toBeCloseTo(gb, 5);
    acc.reset();
    expect(acc.count).toBe(0);
    tf.dispose([w, b]);
  });

  it('owns only its sums: flat tensor count over many adds, nothing left after reset', () => {
    const acc = new GradientAccumulator();
    const g = { a: tf.ones([3]), b: tf.ones([2, 2]) };
    const start = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) acc.add(g);
    expect(tf.memory().numTensors).toBe(start + 2);
    expect(Array.from(acc.peek().a!.dataSync())).toEqual([50, 50, 50]);
    acc.reset();
    expect(tf.memory().numTensors).toBe(start);
    // take hands the sums over
    acc.add(g);
    const taken = acc.take();
    expect(acc.count).toBe(0);
    expect(tf.memory().numTensors).toBe(start + 2);
    tf.dispose([...Object.values(taken), ...Object.values(g)]);
    expect(() => {
      acc.add({ a: tf.ones([3]) }, { dispose: true });
      acc.add({ a: tf.ones([4]) }, { dispose: true });
    }).toThrow(/'a' changed shape/);
    acc.reset();
  });
});
