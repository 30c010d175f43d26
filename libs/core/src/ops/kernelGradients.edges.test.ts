// Kernel gradients the main table (kernelGradients.test.ts) leaves out or checks
// only away from their edges: erf, mod, pow where the base is not positive, and
// max/min reductions with tied extremes. References are closed forms, or float64
// finite differences of an independent implementation.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../base/rng';
import { TEST_BACKENDS, useBackend } from '../testing';
import './kernelGradients';
import { dot, f32, fdGrads, randn, relErr, tfGrads } from './gradCheck.testkit';

describe.each(TEST_BACKENDS)('kernel gradient edges on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('erf matches float64 finite differences of its Maclaurin series', () => {
    // erf x = 2/√π Σ (−1)ⁿ x^(2n+1) / (n!(2n+1)), to 1e-16 for |x| < 2.5 with 60 terms
    const erf = (x: number): number => {
      let term = x;
      let sum = x;
      for (let n = 1; n < 60; n++) {
        term *= (-x * x) / n;
        sum += term / (2 * n + 1);
      }
      return (2 / Math.sqrt(Math.PI)) * sum;
    };
    const rng = new Rng(46);
    const x = f32(randn(rng, 8));
    const r = f32(randn(rng, 8));
    const fd = fdGrads((xs) => dot(xs[0].map(erf), r), [x]);
    const xt = tf.tensor1d(Float32Array.from(x));
    const [g] = tfGrads((xs) => tf.erf(xs[0]), [xt], r);
    xt.dispose();
    expect(relErr(g, fd[0])).toBeLessThan(1e-4);
  });

  it('mod: ∂/∂a = 1 and ∂/∂b = −floor(a/b), summed over the broadcast', () => {
    // a/b stays far from integers, where floor (and so the mod) jumps
    const a = [2.3, -1.7, 5.2, 0.4, 3.9, -2.6];
    const b = [1.5, -2.1, 0.7];
    const r = [0.5, -1, 2, 1.5, -0.25, 1];
    const inputs = [tf.tensor2d(a, [2, 3]), tf.tensor1d(b)];
    const [ga, gb] = tfGrads((xs) => tf.mod(xs[0], xs[1]), inputs, Float64Array.from(r));
    tf.dispose(inputs);
    // floor(a/b) = [1, 0, 7, 0, −2, −4]
    expect(Array.from(ga)).toEqual(r);
    const floors = a.map((v, i) => Math.floor(v / b[i % 3]));
    expect(floors).toEqual([1, 0, 7, 0, -2, -4]);
    const wantB = [0, 1, 2].map((j) => -(floors[j] * r[j] + floors[j + 3] * r[j + 3]));
    for (let j = 0; j < 3; j++) expect(gb[j]).toBeCloseTo(wantB[j], 5);
  });

  it('pow at a ≤ 0: ∂/∂a = b·a^(b−1), ∂/∂b = 0 (a^b·ln a is defined only for a > 0)', () => {
    const inputs = [tf.tensor1d([-2, 0, 1.5]), tf.tensor1d([2, 3, 2])];
    const [ga, gb] = tfGrads((xs) => tf.pow(xs[0], xs[1]), inputs, Float64Array.from([1, 1, 1]));
    tf.dispose(inputs);
    expect(Array.from(ga)).toEqual([-4, 0, 3]);
    expect(gb[0]).toBe(0);
    expect(gb[1]).toBe(0);
    expect(gb[2]).toBeCloseTo(2.25 * Math.log(1.5), 5);
  });

  it('max and min reductions: tied extremes each get the full gradient', () => {
    const x = tf.tensor2d([
      [1, 3, 3, -2],
      [0, -2, 5, -2],
    ]);
    const r = Float64Array.from([2, -1]);
    const [gMax] = tfGrads((xs) => tf.max(xs[0], 1), [x], r);
    const [gMin] = tfGrads((xs) => tf.min(xs[0], 1), [x], r);
    const plus0 = (g: Float64Array) => Array.from(g, (v) => v + 0); // −0 → 0
    expect(plus0(gMax)).toEqual([0, 2, 2, 0, 0, 0, -1, 0]);
    expect(plus0(gMin)).toEqual([0, 0, 0, 2, 0, -1, 0, -1]);
    x.dispose();
  });
});
