import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng, useBackend } from '@rxrl/core';
import { AdamW } from '@rxrl/optimizer';
import { FlatAdamW } from './flatAdamW';

beforeAll(async () => {
  await useBackend('wasm');
});

describe('FlatAdamW', () => {
  it('matches the optimizer library AdamW over 4 steps on its range and leaves the rest alone', () => {
    const rng = new Rng(11);
    const n = 40;
    const init = new Float32Array(n);
    rng.fillNormal(init, 0, 1);
    const opts = { lr: 0.05, betas: [0.8, 0.95] as [number, number], eps: 1e-6, weight_decay: 0.1 };
    const lo = 10;
    const hi = 30;
    const flat = Float32Array.from(init);
    const fa = new FlatAdamW(opts, lo, hi);
    const v = tf.variable(tf.tensor1d(init.slice(lo, hi)), true, 'x');
    const ref = new AdamW({ x: v }, opts);
    for (let s = 0; s < 4; s++) {
      const g = new Float32Array(n);
      rng.fillNormal(g, 0, 0.5);
      fa.step(flat, g, 0.5);
      const gt = tf.tensor1d(g.slice(lo, hi).map((x) => x * 0.5));
      ref.step({ x: gt });
      gt.dispose();
    }
    const want = v.dataSync();
    let d = 0;
    for (let i = lo; i < hi; i++) d = Math.max(d, Math.abs(flat[i]! - want[i - lo]!));
    expect(d).toBeLessThan(1e-6);
    expect(Math.abs(flat[lo]! - init[lo]!)).toBeGreaterThan(0.05); // it did move
    expect([...flat.slice(0, lo), ...flat.slice(hi)]).toEqual([
      ...init.slice(0, lo),
      ...init.slice(hi),
    ]);
    expect(fa.stepCount).toBe(4);
    ref.dispose();
    v.dispose();
  });
});
