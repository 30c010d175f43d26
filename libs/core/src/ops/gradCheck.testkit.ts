// Test helpers (not shipped from index.ts): float64 finite differences against tf gradients.
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../base/rng';

/** A float64 array of `n` standard normal draws, scaled. */
export function randn(rng: Rng, n: number, scale = 1): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * scale;
  return a;
}

/** Round a float64 array to float32 (the values tf actually sees), kept as float64. */
export function f32(a: Float64Array): Float64Array {
  return Float64Array.from(Float32Array.from(a));
}

/**
 * Central finite differences in float64 of `loss(inputs)` with respect to each
 * input array: (L(x+h) − L(x−h)) / 2h, element by element.
 */
export function fdGrads(
  loss: (inputs: Float64Array[]) => number,
  inputs: Float64Array[],
  h = 1e-6,
): Float64Array[] {
  return inputs.map((x) => {
    const g = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const orig = x[i];
      x[i] = orig + h;
      const up = loss(inputs);
      x[i] = orig - h;
      const down = loss(inputs);
      x[i] = orig;
      g[i] = (up - down) / (2 * h);
    }
    return g;
  });
}

/** ‖a − b‖ / ‖b‖: norm-wise relative error (per-element ratios blow up where a gradient is ~0). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`relErr: length ${a.length} vs ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-12);
}

/** Max |a − b|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Σ out·r, the scalar projection used to turn a tensor-valued op into a loss. */
export function dot(out: ArrayLike<number>, r: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < out.length; i++) s += out[i] * r[i];
  return s;
}

/**
 * tf gradients of `Σ op(inputs) ⊙ r` with respect to the float inputs, read back
 * as float64 arrays. `make` builds the op's input tensors from the float arrays.
 */
export function tfGrads(
  op: (xs: tf.Tensor[]) => tf.Tensor,
  inputs: tf.Tensor[],
  r: Float64Array,
): Float64Array[] {
  const gs = tf.tidy(() => {
    const rt = tf.tensor(Float32Array.from(r));
    return tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(tf.reshape(op(xs), [-1]), rt)))(inputs);
  });
  const out = gs.map((g) => Float64Array.from(g.dataSync()));
  tf.dispose(gs);
  return out;
}

/** float64 log-softmax of each row of an [n, v] matrix. */
export function logSoftmaxRef(x: Float64Array, n: number, v: number): Float64Array {
  const y = new Float64Array(n * v);
  for (let i = 0; i < n; i++) {
    let m = -Infinity;
    for (let j = 0; j < v; j++) m = Math.max(m, x[i * v + j]);
    let s = 0;
    for (let j = 0; j < v; j++) s += Math.exp(x[i * v + j] - m);
    const lse = m + Math.log(s);
    for (let j = 0; j < v; j++) y[i * v + j] = x[i * v + j] - lse;
  }
  return y;
}
