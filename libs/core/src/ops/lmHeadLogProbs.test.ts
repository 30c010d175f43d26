import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../base/rng';
import { TEST_BACKENDS, useBackend } from '../testing';
import { nativeInPlaceCalls } from '../backend/nativeInPlace';
import { NATIVE_BACKEND } from '../backend/nativeNames';
import { randn, relErr } from './gradCheck.testkit';
import { linear } from './linear';
import { lmHeadTokenLogProbs, logitsChunkRows } from './lmHeadLogProbs';
import { withoutNativeLmHead } from './lmHeadNative.testkit';
import { tokenLogProbs } from './tokenLogProbs';

/** Value and gradients (hidden, head) of `Σ r·op(h, w)`, read back. */
function valueAndGrads(
  op: (h: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor1D,
  h: tf.Tensor2D,
  w: tf.Tensor2D,
  r: tf.Tensor1D,
): { value: Float32Array; dh: Float32Array; dw: Float32Array } {
  const value = tf.tidy(() => op(h, w));
  const [dh, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
    tf.sum(tf.mul(op(a as tf.Tensor2D, b as tf.Tensor2D), r)),
  )([h, w]);
  const out = {
    value: value.dataSync() as Float32Array,
    dh: dh!.dataSync() as Float32Array,
    dw: dw!.dataSync() as Float32Array,
  };
  tf.dispose([value, dh!, dw!]);
  return out;
}

describe.each(TEST_BACKENDS)('lmHeadTokenLogProbs on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  const [n, d, v] = [23, 8, 37];
  const rng = new Rng(12);
  const hData = Float32Array.from(randn(rng, n * d, 1.5));
  const wData = Float32Array.from(randn(rng, d * v, 1));
  const rData = Float32Array.from(randn(rng, n));
  const tData = Int32Array.from({ length: n }, () => rng.int(v));

  for (const vocabMajor of [false, true]) {
    for (const temperature of [1, 0.7]) {
      it(`equals linear + tokenLogProbs in value and gradients (vocabMajor ${vocabMajor}, T ${temperature}) for every chunk size`, () => {
        const before = tf.memory().numTensors;
        const h = tf.tensor2d(hData, [n, d]);
        const wDV = tf.tensor2d(wData, [d, v]);
        const w = vocabMajor ? (tf.transpose(wDV) as tf.Tensor2D) : wDV;
        const t = tf.tensor1d(tData, 'int32');
        const r = tf.tensor1d(rData);
        // the unchunked path: [N, V] logits on the tape
        const ref = valueAndGrads(
          (a, b) => {
            const logits = linear(a, vocabMajor ? (tf.transpose(b) as tf.Tensor2D) : b);
            return tokenLogProbs(
              temperature === 1 ? logits : (tf.mul(logits, 1 / temperature) as tf.Tensor2D),
              t,
            );
          },
          h,
          w,
          r,
        );
        for (const chunkRows of [1, 4, 7, n, 1000]) {
          const got = valueAndGrads(
            (a, b) => lmHeadTokenLogProbs(a, b, t, { chunkRows, temperature, vocabMajor }),
            h,
            w,
            r,
          );
          expect(relErr(got.value, ref.value)).toBeLessThan(1e-5);
          expect(relErr(got.dh, ref.dh)).toBeLessThan(1e-5);
          expect(relErr(got.dw, ref.dw)).toBeLessThan(1e-5);
        }
        // a wrong temperature is caught by the same bound
        const off = tf.tidy(() =>
          lmHeadTokenLogProbs(h, w, t, { temperature: temperature * 1.01, vocabMajor }),
        );
        expect(relErr(off.dataSync(), ref.value)).toBeGreaterThan(1e-4);
        tf.dispose([h, wDV, w, t, r, off]);
        expect(tf.memory().numTensors).toBe(before);
      });
    }
  }

  it('a frozen head (non-trainable variable) gives the same hidden gradient and a zero head gradient', () => {
    const h = tf.tensor2d(hData, [n, d]);
    const t = tf.tensor1d(tData, 'int32');
    const r = tf.tensor1d(rData);
    for (const vocabMajor of [false, true]) {
      const wDV = tf.tensor2d(wData, [d, v]);
      const w = vocabMajor ? (tf.transpose(wDV) as tf.Tensor2D) : wDV;
      const frozen = tf.variable(w, false);
      const op = (a: tf.Tensor2D, b: tf.Tensor2D) =>
        lmHeadTokenLogProbs(a, b, t, { chunkRows: 7, vocabMajor });
      const ref = valueAndGrads(op, h, w, r);
      const got = valueAndGrads(op, h, frozen, r);
      expect(relErr(got.value, ref.value)).toBe(0);
      expect(relErr(got.dh, ref.dh)).toBe(0);
      expect(Math.max(...got.dw.map(Math.abs))).toBe(0);
      expect(Math.max(...ref.dw.map(Math.abs))).toBeGreaterThan(1e-3);
      tf.dispose([wDV, w, frozen]);
    }
    tf.dispose([h, t, r]);
  });

  it.runIf(backend === NATIVE_BACKEND)(
    'sums the chunks of the head gradient in place (one sgemm with beta 1 per chunk after the first)',
    () => {
      const h = tf.tensor2d(hData, [n, d]);
      const w = tf.tensor2d(wData, [d, v]);
      const t = tf.tensor1d(tData, 'int32');
      const r = tf.tensor1d(rData);
      const calls = nativeInPlaceCalls();
      // the op-by-op path (the fused kernel, lmHeadNative.test.ts, sums inside C)
      withoutNativeLmHead(() =>
        valueAndGrads((a, b) => lmHeadTokenLogProbs(a, b, t, { chunkRows: 7 }), h, w, r),
      );
      expect(nativeInPlaceCalls() - calls).toBe(Math.ceil(n / 7) - 1);
      tf.dispose([h, w, t, r]);
    },
  );

  it('rejects bad shapes and options', () => {
    const h = tf.zeros([2, 3]) as tf.Tensor2D;
    const w = tf.zeros([3, 5]) as tf.Tensor2D;
    const t = tf.tensor1d([0, 1], 'int32');
    expect(() => lmHeadTokenLogProbs(h, w, t, { vocabMajor: true })).toThrow(/head \[V,D\]/);
    expect(() => lmHeadTokenLogProbs(h, w, t, { chunkRows: 0 })).toThrow(/chunkRows/);
    expect(() => lmHeadTokenLogProbs(h, w, tf.tensor1d([0, 1]))).toThrow(/int32/);
    tf.dispose([h, w, t]);
  });
});

describe('lmHeadTokenLogProbs memory', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('sizes chunks from the vocabulary: ≤ 64 MiB of logits, at least one row', () => {
    expect(logitsChunkRows(151936)).toBe(110);
    expect(110 * 151936 * 4).toBeLessThanOrEqual(64 * 2 ** 20);
    expect(111 * 151936 * 4).toBeGreaterThan(64 * 2 ** 20);
    expect(logitsChunkRows(1 << 30)).toBe(1);
    expect(logitsChunkRows(256)).toBe(65536);
  });

  // Each chunk's backward slices its [rows, D] of the hidden states and frees the slice when
  // done; kept, the slices would add D floats a row to the peak. Measured on cpu, the peak
  // grows by 4·D floats a row (the [N, D] input, dHidden's chunks and their concat among them)
  // and five [N] vectors: 1044 bytes at D 64, 1300 with the slices kept.
  it('the backward frees each chunk of hidden rows: peak bytes grow by 4·D floats a row', async () => {
    const [d, v, chunkRows] = [64, 37, 4];
    const rng = new Rng(5);
    const w = tf.tensor2d(Float32Array.from(randn(rng, d * v, 0.1)), [d, v]);
    const peak = async (n: number) => {
      const h = tf.tensor2d(Float32Array.from(randn(rng, n * d)), [n, d]);
      const t = tf.tensor1d(
        Int32Array.from({ length: n }, () => rng.int(v)),
        'int32',
      );
      const info = await tf.profile(() =>
        tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(lmHeadTokenLogProbs(a as tf.Tensor2D, b as tf.Tensor2D, t, { chunkRows })),
        )([h, w]),
      );
      tf.dispose([h, t, ...(info.result as tf.Tensor[])]);
      return info.peakBytes;
    };
    const perRow = ((await peak(256)) - (await peak(128))) / 128;
    expect(perRow).toBeGreaterThanOrEqual(4 * d * 4);
    expect(perRow).toBeLessThan((4 * d + 16) * 4);
    tf.dispose(w);
  });

  it('peak tensor bytes of forward + backward are bounded by the chunk, not by [N, V]', async () => {
    const [d, v, chunkRows] = [16, 2048, 32];
    const rng = new Rng(3);
    const w = tf.tensor2d(Float32Array.from(randn(rng, d * v, 0.1)), [d, v]);
    /** Peak bytes above the baseline while `op` runs forward and backward over `n` rows. */
    const peakOf = async (
      n: number,
      op: (a: tf.Tensor2D, b: tf.Tensor2D, t: tf.Tensor1D) => tf.Tensor1D,
    ) => {
      const h = tf.tensor2d(Float32Array.from(randn(rng, n * d)), [n, d]);
      const t = tf.tensor1d(
        Int32Array.from({ length: n }, () => rng.int(v)),
        'int32',
      );
      const base = tf.memory().numBytes;
      const info = await tf.profile(() => {
        tf.dispose(
          tf.grads((a: tf.Tensor, b: tf.Tensor) =>
            tf.sum(op(a as tf.Tensor2D, b as tf.Tensor2D, t)),
          )([h, w]),
        );
        return [];
      });
      tf.dispose([h, t]);
      return info.peakBytes - base;
    };
    const chunk = chunkRows * v * 4; // 256 KiB of logits per chunk
    const params = d * v * 4; // the head gradient, 128 KiB
    const chunked = (a: tf.Tensor2D, b: tf.Tensor2D, t: tf.Tensor1D) =>
      lmHeadTokenLogProbs(a, b, t, { chunkRows });
    const plain = (a: tf.Tensor2D, b: tf.Tensor2D, t: tf.Tensor1D) =>
      tokenLogProbs(linear(a, b), t);
    const before = tf.memory().numTensors;
    const [cSmall, cLarge] = [await peakOf(256, chunked), await peakOf(1024, chunked)];
    const [pSmall, pLarge] = [await peakOf(256, plain), await peakOf(1024, plain)];
    // at most six [chunkRows, V] buffers at a time (logits, softmax, one-hot, gradient), plus the head gradient being summed and [N]-sized rows
    const bound = (n: number) => 6 * chunk + 3 * params + n * (d + 8) * 4;
    expect(cSmall).toBeLessThan(bound(256));
    expect(cLarge).toBeLessThan(bound(1024));
    // 4x the rows adds only the [N, D] and [N] tensors, never another [N, V]
    expect(cLarge - cSmall).toBeLessThan(chunk);
    // the unchunked path holds at least the whole [N, V] logits and grows with N (the check can fail)
    expect(pSmall).toBeGreaterThan(256 * v * 4);
    expect(pLarge).toBeGreaterThan(1024 * v * 4);
    tf.dispose(w);
    expect(tf.memory().numTensors).toBe(before - 1);
  });
});
