import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { nativeTestBackendAvailable, useBackend } from '../testing';
import '../ops/kernelGradients';
import { ArrayPool, POOL_MIN_ELEMENTS } from './nativeArrayPool';

// The native backend's reuse of disposed kernel outputs: an array comes back only when the
// one tensor that owned it is disposed and its contents never left the backend.

const N = POOL_MIN_ELEMENTS * 2;
const pool = () => (tf.backend() as unknown as { pool: ArrayPool }).pool;
const ramp = (scale: number) => tf.mul(tf.range(0, N, 1, 'float32'), scale);

describe.runIf(nativeTestBackendAvailable())('native backend array pool', () => {
  beforeAll(async () => {
    await useBackend('native');
  });

  it('reuses a disposed output for the next output of the same length', () => {
    const a = ramp(2); // Multiply: a pooled output
    const first = a.dataId;
    const before = pool().reused;
    a.dispose();
    const b = ramp(3);
    expect(pool().reused).toBe(before + 1);
    expect(b.dataId).not.toBe(first);
    // and the reused array holds the new values everywhere
    const v = b.dataSync();
    expect(v[0]).toBe(0);
    expect(v[N - 1]).toBe(3 * (N - 1));
    b.dispose();
  });

  it('never reuses an array that was read (dataSync hands out the array itself)', () => {
    const a = ramp(5);
    const seen = a.dataSync();
    a.dispose();
    const others = [ramp(7), ramp(11), ramp(13)];
    expect(seen[N - 1]).toBe(5 * (N - 1));
    expect(others.some((o) => o.dataSync() === seen)).toBe(false);
    tf.dispose(others);
  });

  it('keeps an output that a contiguous slice views, and one shared by a reshape, until nothing uses it', () => {
    const a = ramp(1);
    const slice = tf.slice(a, [N / 2], [N / 2]); // the cpu kernel's subarray view
    const r = ramp(4);
    const reshaped = tf.reshape(r, [2, N / 2]); // the same dataId, refCount 2
    a.dispose();
    r.dispose();
    const others = [ramp(7), ramp(11), ramp(13)];
    expect(slice.dataSync()[0]).toBe(N / 2);
    expect(reshaped.dataSync()[N - 1]).toBe(4 * (N - 1));
    tf.dispose([slice, reshaped, ...others]);
  });

  it('keeps no more than its cap, and arrays below the minimum are not pooled', () => {
    const p = new ArrayPool(3 * N * 4);
    const arrays = [p.take(N), p.take(N), p.take(N), p.take(N)];
    arrays.forEach((x) => {
      p.registered(x);
      p.released(x);
    });
    expect(p.heldBytes()).toBe(3 * N * 4);
    expect(p.take(N)).toBe(arrays[2]);
    const small = p.take(10);
    p.registered(small);
    p.released(small);
    expect(p.take(10)).not.toBe(small);
  });

  it('keeps numTensors flat and reuses over a loop of forward and backward passes', () => {
    const w = tf.variable(tf.randomNormal([256, 512]));
    const x = tf.randomNormal([300, 256]);
    const step = () => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(tf.matMul(x, w))));
      tf.dispose([value, ...Object.values(grads)]);
    };
    step();
    const tensors = tf.memory().numTensors;
    const reused = pool().reused;
    for (let i = 0; i < 5; i++) step();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(pool().reused - reused).toBeGreaterThanOrEqual(5 * 3);
    tf.dispose([w, x]);
  });
});
