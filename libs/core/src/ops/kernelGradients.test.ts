import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, beforeAll } from 'vitest';
import { Rng } from '../base/rng';
import { TEST_BACKENDS, useBackend } from '../testing';
import './kernelGradients';
import { dot, f32, fdGrads, randn, relErr, tfGrads } from './gradCheck.testkit';

type TfFn = (xs: tf.Tensor[]) => tf.Tensor;

/**
 * Exact gradient of Σ r ⊙ f for an f that is affine in input `w`:
 * ∂/∂x_w[i] = ⟨r, f(x_w = e_i) − f(x_w = 0)⟩, evaluated with tf's forward only.
 */
function affineGrad(
  f: TfFn,
  values: Float64Array[],
  shapes: number[][],
  w: number,
  r: Float64Array,
): Float64Array {
  const run = (xw: Float64Array): Float64Array => {
    const ts = values.map((v, j) => tf.tensor(Float32Array.from(j === w ? xw : v), shapes[j]));
    const y = tf.tidy(() => f(ts));
    const out = Float64Array.from(y.dataSync());
    tf.dispose([...ts, y]);
    return out;
  };
  const n = values[w].length;
  const base = dot(run(new Float64Array(n)), r);
  const g = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const e = new Float64Array(n);
    e[i] = 1;
    g[i] = dot(run(e), r) - base;
  }
  return g;
}

function check(
  f: TfFn,
  values: Float64Array[],
  shapes: number[][],
  ref: Float64Array[],
  r: Float64Array,
): void {
  const ts = values.map((v, j) => tf.tensor(Float32Array.from(v), shapes[j]));
  const g = tfGrads(f, ts, r);
  tf.dispose(ts);
  for (let i = 0; i < ref.length; i++) expect(relErr(g[i], ref[i])).toBeLessThan(1e-4);
}

const UNARY: Array<[string, (x: tf.Tensor) => tf.Tensor, (x: number) => number, 'any' | 'pos']> = [
  ['abs', tf.abs, Math.abs, 'any'],
  ['exp', tf.exp, Math.exp, 'any'],
  ['expm1', tf.expm1, Math.expm1, 'any'],
  ['log', tf.log, Math.log, 'pos'],
  ['log1p', tf.log1p, Math.log1p, 'pos'],
  ['neg', tf.neg, (x) => -x, 'any'],
  ['sqrt', tf.sqrt, Math.sqrt, 'pos'],
  ['rsqrt', tf.rsqrt, (x) => 1 / Math.sqrt(x), 'pos'],
  ['square', tf.square, (x) => x * x, 'any'],
  ['reciprocal', tf.reciprocal, (x) => 1 / x, 'pos'],
  ['sigmoid', tf.sigmoid, (x) => 1 / (1 + Math.exp(-x)), 'any'],
  ['tanh', tf.tanh, Math.tanh, 'any'],
  ['softplus', tf.softplus, (x) => Math.log1p(Math.exp(x)), 'any'],
  ['relu', tf.relu, (x) => Math.max(x, 0), 'any'],
  ['sin', tf.sin, Math.sin, 'any'],
  ['cos', tf.cos, Math.cos, 'any'],
  ['elu', tf.elu, (x) => (x > 0 ? x : Math.expm1(x)), 'any'],
  ['leakyRelu', (x) => tf.leakyRelu(x, 0.2), (x) => (x > 0 ? x : 0.2 * x), 'any'],
  [
    'clipByValue',
    (x) => tf.clipByValue(x, -0.5, 0.5),
    (x) => Math.min(Math.max(x, -0.5), 0.5),
    'any',
  ],
];

const BINARY: Array<
  [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, (a: number, b: number) => number]
> = [
  ['add', tf.add, (a, b) => a + b],
  ['sub', tf.sub, (a, b) => a - b],
  ['mul', tf.mul, (a, b) => a * b],
  ['div', tf.div, (a, b) => a / b],
  ['maximum', tf.maximum, Math.max],
  ['minimum', tf.minimum, Math.min],
  ['squaredDifference', tf.squaredDifference, (a, b) => (a - b) ** 2],
  ['pow', tf.pow, (a, b) => a ** b],
];

/** Linear (or affine per input) ops: reference gradients from tf's forward on basis vectors. */
const AFFINE: Array<[string, TfFn, number[][]]> = [
  ['reshape+transpose', (x) => tf.transpose(tf.reshape(x[0], [2, 3, 4]), [2, 0, 1]), [[6, 4]]],
  ['expandDims', (x) => tf.expandDims(x[0], 1), [[2, 3]]],
  [
    'concat',
    (x) => tf.concat([x[0], x[1]], 1),
    [
      [2, 3],
      [2, 2],
    ],
  ],
  ['split', (x) => tf.mul(tf.split(x[0], [1, 3], 1)[1], 2), [[2, 4]]],
  // copy before reversing: tfjs keeps the very array unstack returns as the tape's output list
  ['stack+unstack', (x) => tf.stack([...tf.unstack(x[0], 1)].reverse(), 0), [[2, 3]]],
  ['slice', (x) => tf.slice(x[0], [1, 1], [2, -1]), [[3, 4]]],
  [
    'pad',
    (x) =>
      tf.pad(x[0], [
        [1, 0],
        [0, 2],
      ]),
    [[2, 3]],
  ],
  ['tile', (x) => tf.tile(x[0], [2, 3]), [[2, 2]]],
  [
    'gather axis 1 with repeats',
    (x) => tf.gather(x[0], tf.tensor1d([2, 0, 2], 'int32'), 1),
    [[2, 3, 2]],
  ],
  ['cumsum exclusive reverse', (x) => tf.cumsum(x[0], 1, true, true), [[2, 4]]],
  ['sum axes', (x) => tf.sum(x[0], [0, 2]), [[2, 3, 4]]],
  ['mean axis', (x) => tf.mean(x[0], 1, true), [[2, 3, 4]]],
  [
    'where',
    (x) =>
      tf.where(
        tf.tensor2d(
          [
            [true, false, true],
            [false, false, true],
          ],
          [2, 3],
          'bool',
        ),
        x[0],
        x[1],
      ),
    [
      [2, 3],
      [2, 3],
    ],
  ],
  [
    'addN',
    (x) => tf.addN([x[0], x[1], x[0]]),
    [
      [2, 2],
      [2, 2],
    ],
  ],
  [
    'matMul',
    (x) => tf.matMul(x[0], x[1]),
    [
      [2, 3],
      [3, 4],
    ],
  ],
  [
    'matMul transposeA',
    (x) => tf.matMul(x[0], x[1], true, false),
    [
      [3, 2],
      [3, 4],
    ],
  ],
  [
    'matMul transposeB',
    (x) => tf.matMul(x[0], x[1], false, true),
    [
      [2, 3],
      [4, 3],
    ],
  ],
  [
    'matMul both',
    (x) => tf.matMul(x[0], x[1], true, true),
    [
      [3, 2],
      [4, 3],
    ],
  ],
  [
    'batched matMul, broadcast b',
    (x) => tf.matMul(x[0], x[1]),
    [
      [2, 2, 3],
      [3, 2],
    ],
  ],
];

describe.each(TEST_BACKENDS)('kernel gradients on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it.each(UNARY)('%s matches float64 finite differences', (_name, tfFn, jsFn, domain) => {
    const rng = new Rng(41);
    let x = randn(rng, 10);
    if (domain === 'pos') x = x.map((v) => Math.abs(v) + 0.3);
    // keep away from kinks (0 for abs/relu, ±0.5 for the clip)
    x = f32(x.map((v) => (Math.abs(v) < 0.05 || Math.abs(Math.abs(v) - 0.5) < 0.05 ? v + 0.2 : v)));
    const r = f32(randn(rng, 10));
    const fd = fdGrads((xs) => dot(xs[0].map(jsFn), r), [x]);
    check((xs) => tfFn(xs[0]), [x], [[10]], fd, r);
  });

  it.each(BINARY)(
    '%s (with broadcasting) matches float64 finite differences',
    (_name, tfFn, jsFn) => {
      const rng = new Rng(42);
      const a = f32(randn(rng, 6).map((v) => Math.abs(v) + 0.5));
      const b = f32(randn(rng, 3).map((v) => v + (v > 0 ? 0.3 : -0.3)));
      const r = f32(randn(rng, 6));
      const ref = (xs: Float64Array[]): Float64Array =>
        Float64Array.from({ length: 6 }, (_, i) => jsFn(xs[0][i], xs[1][i % 3]));
      const fd = fdGrads((xs) => dot(ref(xs), r), [a, b]);
      check((xs) => tfFn(xs[0], xs[1]), [a, b], [[2, 3], [3]], fd, r);
    },
  );

  it.each(['max', 'min'] as const)('%s reduction matches float64 finite differences', (which) => {
    const rng = new Rng(43);
    const x = f32(randn(rng, 12));
    const r = f32(randn(rng, 3));
    const pick = which === 'max' ? Math.max : Math.min;
    const ref = (xs: Float64Array[]): Float64Array =>
      Float64Array.from({ length: 3 }, (_, i) => pick(...xs[0].slice(i * 4, i * 4 + 4)));
    const fd = fdGrads((xs) => dot(ref(xs), r), [x]);
    check((xs) => (which === 'max' ? tf.max(xs[0], 1) : tf.min(xs[0], -1)), [x], [[3, 4]], fd, r);
  });

  it('comparisons, rounding and argMax inside the taped forward pass contribute zero gradient', () => {
    // f(x) = Σ where(x > 0, x², −x) + floor(x)·0 + argMax: d/dx = 2x for x > 0, −1 otherwise
    const xs = [-1.5, -0.2, 0.3, 2];
    const x = tf.tensor1d(xs);
    const g = tf.grad((t: tf.Tensor) =>
      tf.addN([
        tf.sum(tf.where(tf.greater(t, 0), tf.square(t), tf.neg(t))),
        tf.sum(tf.mul(tf.floor(t), 0)),
        tf.mul(tf.cast(tf.argMax(t), 'float32'), tf.cast(tf.any(tf.equal(t, t)), 'float32')),
        tf.sum(
          tf.mul(tf.cast(tf.logicalAnd(tf.lessEqual(t, 1), tf.greaterEqual(t, -1)), 'float32'), 0),
        ),
      ]),
    )(x);
    expect(Array.from(g.dataSync())).toEqual(xs.map((v) => (v > 0 ? Math.fround(2 * v) : -1)));
    tf.dispose([x, g]);
  });

  it('softmax matches float64 finite differences', () => {
    const rng = new Rng(44);
    const x = f32(randn(rng, 8));
    const r = f32(randn(rng, 8));
    const ref = (xs: Float64Array[]): Float64Array => {
      const y = new Float64Array(8);
      for (let row = 0; row < 2; row++) {
        const e = Array.from(xs[0].slice(row * 4, row * 4 + 4), Math.exp);
        const z = e.reduce((a, v) => a + v, 0);
        e.forEach((v, j) => (y[row * 4 + j] = v / z));
      }
      return y;
    };
    const fd = fdGrads((xs) => dot(ref(xs), r), [x]);
    check((xs) => tf.softmax(xs[0]), [x], [[2, 4]], fd, r);
  });

  it.each(AFFINE)('%s matches its exact (affine) derivative', (_name, f, shapes) => {
    const rng = new Rng(45);
    const values = shapes.map((s) =>
      f32(
        randn(
          rng,
          s.reduce((a, d) => a * d, 1),
        ),
      ),
    );
    const outSize = tf.tidy(
      () => f(values.map((v, j) => tf.tensor(Float32Array.from(v), shapes[j]))).size,
    );
    const r = f32(randn(rng, outSize));
    const ref = values.map((_, w) => affineGrad(f, values, shapes, w, r));
    check(f, values, shapes, ref, r);
  });
});
