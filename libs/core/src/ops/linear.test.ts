import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, beforeAll } from 'vitest';
import { Rng } from '../base/rng';
import { TEST_BACKENDS, useBackend } from '../testing';
import { linear, linearTransposed } from './linear';
import { dot, f32, fdGrads, randn, relErr, tfGrads } from './gradCheck.testkit';

function linearRef(
  x: Float64Array,
  w: Float64Array,
  b: Float64Array | null,
  n: number,
  din: number,
  dout: number,
): Float64Array {
  const y = new Float64Array(n * dout);
  for (let i = 0; i < n; i++) {
    for (let o = 0; o < dout; o++) {
      let s = b ? b[o] : 0;
      for (let k = 0; k < din; k++) s += x[i * din + k] * w[k * dout + o];
      y[i * dout + o] = s;
    }
  }
  return y;
}

describe.each(TEST_BACKENDS)('linear on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('computes x·w + b with w stored [in, out]', () => {
    const y = tf.tidy(() =>
      linear(
        tf.tensor2d([
          [1, 2],
          [3, 4],
        ]),
        tf.tensor2d([
          [1, 0, 2],
          [0, 1, -1],
        ]),
        tf.tensor1d([0.5, 0, 1]),
      ),
    );
    // rows: [1,2]·w = [1,2,0], [3,4]·w = [3,4,2]; plus b
    expect(Array.from(y.dataSync())).toEqual([1.5, 2, 1, 3.5, 4, 3]);
    y.dispose();
  });

  it.each([true, false])('gradient matches float64 finite differences (bias=%s)', (withBias) => {
    const rng = new Rng(11);
    const [n, din, dout] = [3, 4, 5];
    const x = f32(randn(rng, n * din));
    const w = f32(randn(rng, din * dout));
    const b = f32(randn(rng, dout));
    const r = f32(randn(rng, n * dout));
    const inputs = withBias ? [x, w, b] : [x, w];
    const fd = fdGrads(
      (xs) => dot(linearRef(xs[0], xs[1], withBias ? xs[2] : null, n, din, dout), r),
      inputs,
    );
    const ts: tf.Tensor[] = [
      tf.tensor2d(Float32Array.from(x), [n, din]),
      tf.tensor2d(Float32Array.from(w), [din, dout]),
    ];
    if (withBias) ts.push(tf.tensor1d(Float32Array.from(b)));
    const g = tfGrads(
      (xs) => linear(xs[0] as tf.Tensor2D, xs[1] as tf.Tensor2D, xs[2] as tf.Tensor1D | undefined),
      ts,
      r,
    );
    tf.dispose(ts);
    expect(g).toHaveLength(inputs.length);
    for (let i = 0; i < inputs.length; i++) expect(relErr(g[i], fd[i])).toBeLessThan(1e-3);
  });

  it('linearTransposed: x·wᵀ with w stored [out, in], gradient matches float64 finite differences', () => {
    const rng = new Rng(12);
    const [n, din, dout] = [3, 4, 5];
    const x = f32(randn(rng, n * din));
    const wOutIn = f32(randn(rng, dout * din));
    const r = f32(randn(rng, n * dout));
    // the reference reads w transposed into [in, out]
    const toInOut = (w: Float64Array) => {
      const t = new Float64Array(din * dout);
      for (let o = 0; o < dout; o++)
        for (let k = 0; k < din; k++) t[k * dout + o] = w[o * din + k]!;
      return t;
    };
    const fd = fdGrads(
      (xs) => dot(linearRef(xs[0], toInOut(xs[1]), null, n, din, dout), r),
      [x, wOutIn],
    );
    const ts = [
      tf.tensor2d(Float32Array.from(x), [n, din]),
      tf.tensor2d(Float32Array.from(wOutIn), [dout, din]),
    ];
    const g = tfGrads((xs) => linearTransposed(xs[0] as tf.Tensor2D, xs[1] as tf.Tensor2D), ts, r);
    const y = linearTransposed(ts[0] as tf.Tensor2D, ts[1] as tf.Tensor2D);
    const ref = linearRef(x, toInOut(wOutIn), null, n, din, dout);
    expect(relErr(Float64Array.from(y.dataSync()), ref)).toBeLessThan(1e-5);
    tf.dispose([...ts, y]);
    for (let i = 0; i < 2; i++) expect(relErr(g[i]!, fd[i]!)).toBeLessThan(1e-3);
    expect(() =>
      linearTransposed(tf.zeros([2, 3]) as tf.Tensor2D, tf.zeros([5, 4]) as tf.Tensor2D),
    ).toThrow(/linearTransposed: .*\[2,3\].*\[5,4\]/);
  });

  it('rejects mismatched shapes with a message naming them', () => {
    const x = tf.zeros([2, 3]) as tf.Tensor2D;
    const w = tf.zeros([4, 5]) as tf.Tensor2D;
    expect(() => linear(x, w)).toThrow(/linear: .*\[2,3\].*\[4,5\]/);
    tf.dispose([x, w]);
  });

  it('a frozen weight (non-trainable variable) gets zeros; x and the bias get the same gradients', () => {
    const rng = new Rng(4);
    const x = tf.tensor2d(Float32Array.from(randn(rng, 5 * 6)), [5, 6]);
    const wData = Float32Array.from(randn(rng, 6 * 3));
    const b = tf.tensor1d(Float32Array.from(randn(rng, 3)));
    const grads = (w: tf.Tensor2D, withBias: boolean) =>
      (withBias
        ? tf.grads((a: tf.Tensor, c: tf.Tensor, bb: tf.Tensor) =>
            tf.sum(tf.square(linear(a as tf.Tensor2D, c as tf.Tensor2D, bb as tf.Tensor1D))),
          )([x, w, b])
        : tf.grads((a: tf.Tensor, c: tf.Tensor) =>
            tf.sum(tf.square(linear(a as tf.Tensor2D, c as tf.Tensor2D))),
          )([x, w])
      ).map((g) => Array.from(g.dataSync()));
    const plain = tf.tensor2d(wData, [6, 3]);
    const frozen = tf.variable(tf.tensor2d(wData, [6, 3]), false);
    for (const withBias of [false, true]) {
      const [dx, dw, db] = grads(plain, withBias);
      const [fx, fw, fb] = grads(frozen, withBias);
      expect(fx).toEqual(dx);
      expect(fb).toEqual(db);
      expect(fw!.every((g) => g === 0)).toBe(true);
      expect(dw!.some((g) => Math.abs(g) > 1e-3)).toBe(true);
    }
    // linearTransposed reads w as [out, in]
    const wt = tf.variable(tf.transpose(plain), false);
    const [tx, tw] = tf
      .grads((a: tf.Tensor, c: tf.Tensor) =>
        tf.sum(tf.square(linearTransposed(a as tf.Tensor2D, c as tf.Tensor2D))),
      )([x, wt])
      .map((g) => Array.from(g.dataSync()));
    expect(tw!.every((g) => g === 0)).toBe(true);
    const [px] = grads(plain, false);
    for (let i = 0; i < px!.length; i++) expect(tx![i]).toBeCloseTo(px![i]!, 4);
    tf.dispose([x, b, plain, frozen, wt]);
  });

  it('keeps numTensors flat over 50 forward+backward iterations', () => {
    const x = tf.randomNormal([4, 6]) as tf.Tensor2D;
    const w = tf.variable(tf.randomNormal([6, 3])) as tf.Variable<tf.Rank.R2>;
    const b = tf.variable(tf.zeros([3])) as tf.Variable<tf.Rank.R1>;
    const step = (): void => {
      const { value, grads } = tf.variableGrads(
        () => tf.sum(tf.square(linear(x, w, b))) as tf.Scalar,
        [w, b],
      );
      tf.dispose([value, ...Object.values(grads)]);
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, w, b]);
  });
});
