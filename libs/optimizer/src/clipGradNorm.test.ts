import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@rxrl/core';
import { fixture, maxRelErr } from '../test/fixture';
import { clipByGlobalNorm, globalNorm } from './clipGradNorm';

describe('clipByGlobalNorm', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });

  it('reports the pre-clip norm and scales by max_norm / (norm + 1e-6)', () => {
    const grads = { a: tf.tensor1d([3, 4]), b: tf.tensor2d([[12]]) };
    const { grads: out, gradNorm } = clipByGlobalNorm(grads, 1);
    expect(gradNorm).toBeCloseTo(13, 5); // sqrt(9 + 16 + 144)
    const k = 1 / (13 + 1e-6);
    expect(Array.from(out.a!.dataSync())).toEqual(
      [Math.fround(3 * k), Math.fround(4 * k)].map((x) => expect.closeTo(x, 7)),
    );
    expect(out.b!.dataSync()[0]).toBeCloseTo(12 * k, 7);
    expect(globalNorm(out).dataSync()[0]).toBeCloseTo(1, 5);
    // inputs are untouched and still owned by the caller
    expect(Array.from(grads.a.dataSync())).toEqual([3, 4]);
    tf.dispose([...Object.values(grads), ...Object.values(out)]);
  });

  it('leaves gradients below the threshold unchanged', () => {
    const grads = { a: tf.tensor1d([0.3, 0.4]) };
    const { grads: out, gradNorm } = clipByGlobalNorm(grads, 1);
    expect(gradNorm).toBeCloseTo(0.5, 6);
    expect(out.a).not.toBe(grads.a);
    expect(Array.from(out.a!.dataSync())).toEqual(Array.from(grads.a.dataSync()));
    tf.dispose([grads.a, out.a!]);
  });

  it('matches torch.nn.utils.clip_grad_norm_ (fixture)', () => {
    const grads: Record<string, tf.Tensor> = {};
    for (const [n, d] of Object.entries(fixture.grads[0]!))
      grads[n] = tf.tensor(d, fixture.shapes[n]!);
    const before = tf.memory().numTensors;
    const { grads: out, gradNorm } = clipByGlobalNorm(grads, fixture.clip.max_norm);
    expect(Math.abs(gradNorm - fixture.clip.grad_norm) / fixture.clip.grad_norm).toBeLessThan(1e-6);
    for (const n of Object.keys(grads))
      expect(maxRelErr(out[n]!.dataSync(), fixture.clip.clipped[n]!)).toBeLessThan(1e-6);
    expect(tf.memory().numTensors).toBe(before + Object.keys(grads).length);
    tf.dispose([...Object.values(grads), ...Object.values(out)]);
  });

  it('rejects a non-positive max norm', () => {
    expect(() => clipByGlobalNorm({}, 0)).toThrow(/max_grad_norm/);
  });
});
