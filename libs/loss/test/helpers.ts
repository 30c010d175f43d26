import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import type { M } from './reference';

/** Relative-or-absolute closeness for float32 results against float64 references. */
export function expectClose(actual: number, expected: number, tol = 2e-4, what = ''): void {
  const err = Math.abs(actual - expected);
  const ok = err <= tol * Math.max(1, Math.abs(expected));
  if (!ok)
    expect.fail(
      `${what}: got ${actual}, expected ${expected} (|err| ${err.toExponential(2)} > tol ${tol})`,
    );
}

export function expectMatrixClose(actual: M, expected: M, tol: number, what: string): void {
  actual.forEach((row, b) =>
    row.forEach((v, t) => expectClose(v, expected[b]![t]!, tol, `${what}[${b}][${t}]`)),
  );
}

export const t2 = (m: M) => tf.tensor2d(m) as tf.Tensor2D;
export const t1 = (v: number[]) => tf.tensor1d(v) as tf.Tensor1D;
export const ones2 = (B: number, T: number): M => Array.from({ length: B }, () => Array(T).fill(1));
export const rows = (m: M, from: number, to: number) => m.slice(from, to);

/** Gradient of a scalar tensor function w.r.t. a [B, T] input, as nested arrays; leaves no tensors behind. */
export function gradOf(f: (x: tf.Tensor2D) => tf.Scalar, x: M): M {
  return tf.tidy(() => {
    const g = tf.grad((v: tf.Tensor) => f(v as tf.Tensor2D))(t2(x));
    return g.arraySync() as M;
  });
}
