import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@rxrl/core';
import { calculateKl, klK1, klK2, klK3 } from './index';

describe('KL estimators', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });

  it('k1, k2, k3 of log r = [−0.5, 0, 1]', () => {
    const logr = tf.tensor1d([-0.5, 0, 1]);
    const e = (a: number[], b: number[]) => a.forEach((v, i) => expect(v).toBeCloseTo(b[i]!, 6));
    e(Array.from(klK1(logr).dataSync()), [0.5, 0, -1]);
    e(Array.from(klK2(logr).dataSync()), [0.125, 0, 0.5]);
    e(Array.from(klK3(logr).dataSync()), [Math.exp(-0.5) - 0.5, 0, Math.E - 2]);
  });

  it('calculateKl: logr = ref − logprobs, input clamp then output clamp (NeMo RL)', () => {
    const lp = tf.tensor1d([-1, -1, -1]);
    const ref = tf.tensor1d([-1.5, -31, 29]);
    // logr = [−0.5, −30, 30] → clamp ±20 → [−0.5, −20, 20]; k3 = e^x − 1 − x → [0.1065, 19, e^20 − 21] → clamp ±10
    const k = calculateKl(lp, ref, 'k3', 20, 10).dataSync();
    expect(k[0]).toBeCloseTo(Math.exp(-0.5) - 0.5, 6);
    expect(k[1]).toBeCloseTo(10, 5);
    expect(k[2]).toBeCloseTo(10, 5);
    const k1 = calculateKl(lp, ref, 'k1', 20, null).dataSync();
    expect(Array.from(k1)).toEqual([0.5, 20, -20]);
    const k2 = calculateKl(lp, ref, 'k2').dataSync();
    expect(k2[1]).toBeCloseTo(450, 3);
  });

  it('k3 gradient w.r.t. logprobs is 1 − π_ref/π', () => {
    const g = tf
      .grad((x: tf.Tensor) => tf.sum(calculateKl(x, tf.tensor1d([-1.5, -0.2]), 'k3')))(
        tf.tensor1d([-1, -1]),
      )
      .dataSync();
    expect(g[0]).toBeCloseTo(1 - Math.exp(-0.5), 5);
    expect(g[1]).toBeCloseTo(1 - Math.exp(0.8), 5);
  });
});
