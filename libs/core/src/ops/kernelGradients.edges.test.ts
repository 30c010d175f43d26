// Kernel gradients the main table (kernelGradients.test.ts) leaves out or checks
// only away from their edges: erf, mod, pow where the base is not positive,
// max/min reductions with tied extremes, BatchMatMul's branch for plain wasm, and
// the gather gradient's refusal of batchDims. References are closed forms, or float64
// finite differences of an independent implementation.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../base/rng';
import { TEST_BACKENDS, useBackend } from '../testing';
import { disableNativeMatmul, enableNativeMatmulFromEnv } from '../backend/nativeMatmul';
import { directMatMulIsFast } from './matMulRouting';
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

/** float64 `op(x)` of a row-major [rows, cols] matrix: x or its transpose. */
function op(
  x: Float64Array,
  rows: number,
  cols: number,
  t: boolean,
): [Float64Array, number, number] {
  if (!t) return [x, rows, cols];
  const y = new Float64Array(x.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) y[j * rows + i] = x[i * cols + j];
  return [y, cols, rows];
}

/** float64 [m, k]·[k, n]. */
function mm(a: Float64Array, b: Float64Array, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let l = 0; l < k; l++) s += a[i * k + l] * b[l * n + j];
      c[i * n + j] = s;
    }
  return c;
}

describe('BatchMatMul gradient on plain wasm (XNNPACK, no native kernel)', () => {
  beforeAll(async () => {
    await useBackend('wasm');
    // the materialised-transpose branch: what a machine without the OpenBLAS addon runs
    disableNativeMatmul();
  });
  afterAll(() => {
    enableNativeMatmulFromEnv();
  });

  it.each([
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ])(
    'transposeA %s, transposeB %s: d(Σ R⊙op(A)op(B)) = R·op(B)ᵀ and op(A)ᵀ·R, b broadcast over 2 batches',
    async (tA, tB) => {
      expect(directMatMulIsFast()).toBe(false);
      const [m, k, n, batch] = [3, 4, 2, 2];
      const rng = new Rng(47);
      const aShape = tA ? [k, m] : [m, k];
      const bShape = tB ? [n, k] : [k, n];
      const a = f32(randn(rng, batch * m * k));
      const b = f32(randn(rng, k * n));
      const r = f32(randn(rng, batch * m * n));
      const ta = tf.tensor3d(Float32Array.from(a), [batch, aShape[0], aShape[1]]);
      const tb = tf.tensor2d(Float32Array.from(b), [bShape[0], bShape[1]]);
      const rt = tf.tensor1d(Float32Array.from(r));
      const prof = await tf.profile(() =>
        tf.grads((x: tf.Tensor, y: tf.Tensor) =>
          tf.sum(tf.mul(tf.reshape(tf.matMul(x, y, tA, tB), [-1]), rt)),
        )([ta, tb]),
      );
      const gs = prof.result as tf.Tensor[];
      const [ga, gb] = gs.map((g) => Float64Array.from(g.dataSync()));
      // the products on plain wasm are non-transposed: transposes are their own kernels
      if (tA || tB) expect(prof.kernels.map((x) => x.name)).toContain('Transpose');
      tf.dispose([ta, tb, rt, ...gs]);
      const [opB] = op(b, bShape[0], bShape[1], tB);
      const wantA = new Float64Array(a.length);
      const wantB = new Float64Array(b.length);
      for (let s = 0; s < batch; s++) {
        const as = a.subarray(s * m * k, (s + 1) * m * k);
        const rs = r.subarray(s * m * n, (s + 1) * m * n);
        const [opA] = op(as, aShape[0], aShape[1], tA);
        const [bT] = op(opB, k, n, true);
        const dOpA = mm(rs, bT, m, n, k); // [m, k]
        const [dA] = op(dOpA, m, k, tA); // back to a's layout
        wantA.set(dA, s * m * k);
        const [aT] = op(opA, m, k, true);
        const dOpB = mm(aT, rs, k, m, n); // [k, n], summed over the batch
        const [dB] = op(dOpB, k, n, tB);
        dB.forEach((v, i) => (wantB[i] += v));
      }
      expect(relErr(ga, wantA)).toBeLessThan(1e-5);
      expect(relErr(gb, wantB)).toBeLessThan(1e-5);
    },
  );
});

describe('GatherV2 gradient', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('a gather with batchDims is refused, not differentiated wrongly', () => {
    const x = tf.tensor2d([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const idx = tf.tensor2d([[2], [0]], [2, 1], 'int32');
    expect(() => tf.grad((t: tf.Tensor) => tf.sum(tf.gather(t, idx, 1, 1)))(x)).toThrow(
      'gather gradient: batchDims other than 0 is not supported',
    );
    tf.dispose([x, idx]);
  });
});
