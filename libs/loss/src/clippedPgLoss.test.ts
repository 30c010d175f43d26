import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@rxrl/core';
import { clippedPgLoss, readMetricsSync } from './index';

describe('clippedPgLoss smoke', () => {
  beforeAll(async () => { await useBackend('wasm'); });
  it('NeMo RL published PPO clipping case: A=[1,-1,2], r=[0.5,1,1.5], eps 0.2 -> -0.6333', () => {
    const prev = tf.tensor2d([[-1, -1, -1]]);
    const curr = tf.tensor2d([[-1 + Math.log(0.5), -1, -1 + Math.log(1.5)]]);
    const r = clippedPgLoss({ reference_policy_kl_penalty: 0 }, {
      currLogprobs: curr, prevLogprobs: prev, advantages: tf.tensor2d([[1, -1, 2]]), tokenMask: tf.ones([1, 3]) as tf.Tensor2D,
    });
    const m = readMetricsSync(r.metrics);
    console.log(m);
    expect(r.loss.dataSync()[0]).toBeCloseTo(-0.63333, 4);
  });
});
