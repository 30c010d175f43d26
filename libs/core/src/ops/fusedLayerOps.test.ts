import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../base/rng';
import {
  ATTENTION_SOFTMAX_KERNEL,
  LOGITS_GRAD_KERNEL,
  NATIVE_BACKEND,
  RMS_NORM_KERNEL,
  SWIGLU_KERNEL,
} from '../backend/nativeNames';
import { nativeBackendCalls } from '../backend/nativeBackend';
import { nativeTestBackendAvailable, useBackend } from '../testing';
import { swiglu } from './activations';
import { attention } from './attention';
import { lmHeadTokenLogProbs } from './lmHeadLogProbs';
import { randn, relErr } from './gradCheck.testkit';
import { rmsNorm } from './rmsNorm';

// The native backend's fused SwiGLU and RMS norm (native/src/fused.c) against
// the op-by-op path the cpu backend runs: values and every gradient, at layer
// sizes and with values large enough to reach both branches of the sigmoid.

/** Value and gradients of Σ r·f(inputs) on `backend`, read back. */
async function valueAndGrads(
  backend: 'cpu' | 'native',
  f: (xs: tf.Tensor[]) => tf.Tensor,
  inputs: { data: Float32Array; shape: number[] }[],
  r: Float32Array,
): Promise<Float32Array[]> {
  await useBackend(backend);
  const ts = inputs.map((x) => tf.tensor(x.data, x.shape));
  const value = tf.tidy(() => f(ts));
  const grads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(xs), tf.tensor(r, value.shape))))(
    ts,
  );
  const out = [value, ...grads].map((t) => t.dataSync() as Float32Array);
  tf.dispose([value, ...grads, ...ts]);
  return out;
}

describe.runIf(nativeTestBackendAvailable())(
  'fused layer ops: native against op by op (cpu)',
  () => {
    const rng = new Rng(31);
    const data = (n: number, scale: number) => Float32Array.from(randn(rng, n, scale));
    beforeAll(async () => {
      await useBackend(NATIVE_BACKEND);
      expect(tf.getKernel(SWIGLU_KERNEL, NATIVE_BACKEND)).toBeDefined();
      expect(tf.getKernel(RMS_NORM_KERNEL, NATIVE_BACKEND)).toBeDefined();
    });
    afterAll(async () => {
      await useBackend('cpu');
    });

    it('swiglu: value, d gate and d up within 1e-6 relative of the op-by-op path', async () => {
      const [rows, inter] = [33, 301];
      const inputs = [
        { data: data(rows * inter, 4), shape: [rows, inter] },
        { data: data(rows * inter, 1), shape: [rows, inter] },
      ];
      const r = data(rows * inter, 1);
      const f = ([g, u]: tf.Tensor[]) => swiglu(g!, u!);
      const ref = await valueAndGrads('cpu', f, inputs, r);
      const calls = nativeBackendCalls();
      const got = await valueAndGrads('native', f, inputs, r);
      expect(nativeBackendCalls()).toBeGreaterThan(calls);
      got.forEach((g, i) => expect(relErr(g, ref[i]!)).toBeLessThan(1e-6));
    });

    it.each([
      [[40, 96], 1e-6],
      [[2, 3, 4, 64], 1e-5], // qk-norm: rank 4, normed over head_dim
    ] as const)(
      'rmsNorm %j (eps %d): value, dx and d weight within 1e-5 relative',
      async (shape, eps) => {
        const n = shape.reduce((a, b) => a * b, 1);
        const d = shape[shape.length - 1]!;
        const inputs = [
          { data: data(n, 3), shape: [...shape] },
          { data: data(d, 1), shape: [d] },
        ];
        const r = data(n, 1);
        const f = ([x, w]: tf.Tensor[]) => rmsNorm(x!, w as tf.Tensor1D, eps);
        const ref = await valueAndGrads('cpu', f, inputs, r);
        const got = await valueAndGrads('native', f, inputs, r);
        got.forEach((g, i) => expect(relErr(g, ref[i]!)).toBeLessThan(1e-5));
      },
    );

    it.each([
      ['causal', { causal: true }],
      ['causal + key mask (left padding)', { causal: true, mask: true }],
      ['key mask only', { causal: false, mask: true }],
      ['cached decode (T < S)', { causal: true, t: 3 }],
    ] as const)(
      'attention (%s, GQA 6/2 heads): output and d q, d k, d v within 1e-5 of the op-by-op softmax',
      async (_name, o) => {
        expect(tf.getKernel(ATTENTION_SOFTMAX_KERNEL, NATIVE_BACKEND)).toBeDefined();
        const [b, s, hq, hkv, dh] = [2, 9, 6, 2, 8];
        const t = 't' in o ? o.t : s;
        const mask = Float32Array.from({ length: b * s }, (_, i) => (i < 3 ? 0 : 1)); // row 0 left-padded
        const inputs = [
          { data: data(b * t * hq * dh, 2), shape: [b, t, hq, dh] },
          { data: data(b * s * hkv * dh, 2), shape: [b, s, hkv, dh] },
          { data: data(b * s * hkv * dh, 1), shape: [b, s, hkv, dh] },
        ];
        const r = data(b * t * hq * dh, 1);
        const f = ([q, k, v]: tf.Tensor[]) =>
          attention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, {
            causal: o.causal,
            ...('mask' in o ? { keyMask: tf.tensor2d(mask, [b, s]) } : {}),
          });
        const ref = await valueAndGrads('cpu', f, inputs, r);
        const got = await valueAndGrads('native', f, inputs, r);
        got.forEach((g, i) => expect(relErr(g, ref[i]!)).toBeLessThan(1e-5));
      },
    );

    it.each([1, 0.7])(
      'LM head log-probs (T %d, chunks of 5 rows): d hidden and d head within 1e-5 of the op-by-op logits gradient',
      async (temperature) => {
        expect(tf.getKernel(LOGITS_GRAD_KERNEL, NATIVE_BACKEND)).toBeDefined();
        const [n, d, v] = [13, 16, 300];
        const targets = Int32Array.from({ length: n }, (_, i) => (i * 37) % v);
        const inputs = [
          { data: data(n * d, 1), shape: [n, d] },
          { data: data(v * d, 1), shape: [v, d] },
        ];
        const r = data(n, 1);
        const f = ([h, w]: tf.Tensor[]) =>
          lmHeadTokenLogProbs(h as tf.Tensor2D, w as tf.Tensor2D, tf.tensor1d(targets, 'int32'), {
            chunkRows: 5,
            vocabMajor: true,
            temperature,
          });
        const ref = await valueAndGrads('cpu', f, inputs, r);
        const got = await valueAndGrads('native', f, inputs, r);
        got.forEach((g, i) => expect(relErr(g, ref[i]!)).toBeLessThan(1e-5));
      },
    );

    it('keeps numTensors flat over repeated forward + backward', async () => {
      await useBackend(NATIVE_BACKEND);
      const g = tf.tensor2d(data(8 * 16, 1), [8, 16]);
      const w = tf.tensor1d(data(16, 1));
      const step = () => {
        const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(swiglu(rmsNorm(a, b as tf.Tensor1D, 1e-6), a)),
        )([g, w]);
        tf.dispose(grads);
      };
      step();
      const before = tf.memory().numTensors;
      for (let i = 0; i < 20; i++) step();
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([g, w]);
    });
  },
);
