import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, beforeAll } from 'vitest';
import { Rng } from '../base/rng';
import { TEST_BACKENDS, useBackend } from '../testing';
import { geluTanh, silu, swiglu } from './activations';
import { dot, f32, fdGrads, maxAbsDiff, randn, relErr, tfGrads } from './gradCheck.testkit';

const siluRef = (x: number): number => x / (1 + Math.exp(-x));
const geluRef = (x: number): number =>
  0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

describe.each(TEST_BACKENDS)('activations on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('silu, swiglu and geluTanh match their closed forms', () => {
    const xs = [-3, -1, 0, 0.5, 2];
    const ups = [1, 2, 3, 4, 5];
    const [s, sw, g] = tf.tidy(() => {
      const x = tf.tensor1d(xs);
      return [silu(x), swiglu(x, tf.tensor1d(ups)), geluTanh(x)];
    });
    expect(maxAbsDiff(s.dataSync(), xs.map(siluRef))).toBeLessThan(1e-6);
    expect(
      maxAbsDiff(
        sw.dataSync(),
        xs.map((x, i) => siluRef(x) * ups[i]),
      ),
    ).toBeLessThan(1e-5);
    // GPT-2 gelu_new at 1 is 0.8411919906
    expect(maxAbsDiff(g.dataSync(), xs.map(geluRef))).toBeLessThan(1e-6);
    expect(geluRef(1)).toBeCloseTo(0.8411919906, 9);
    tf.dispose([s, sw, g]);
  });

  it('gradients match float64 finite differences', () => {
    const rng = new Rng(9);
    const n = 12;
    const gate = f32(randn(rng, n, 2));
    const up = f32(randn(rng, n));
    const r = f32(randn(rng, n));
    const fdSw = fdGrads(
      (xs) =>
        dot(
          xs[0].map((x, i) => siluRef(x) * xs[1][i]),
          r,
        ),
      [gate, up],
    );
    const [fdG] = fdGrads((xs) => dot(xs[0].map(geluRef), r), [gate]);
    const ts = [tf.tensor1d(Float32Array.from(gate)), tf.tensor1d(Float32Array.from(up))];
    const gSw = tfGrads((xs) => swiglu(xs[0], xs[1]), ts, r);
    const [gG] = tfGrads((xs) => geluTanh(xs[0]), [ts[0]], r);
    tf.dispose(ts);
    expect(relErr(gSw[0], fdSw[0])).toBeLessThan(1e-3);
    expect(relErr(gSw[1], fdSw[1])).toBeLessThan(1e-3);
    expect(relErr(gG, fdG)).toBeLessThan(1e-3);
  });
});
