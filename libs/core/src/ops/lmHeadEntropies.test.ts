import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../base/rng';
import { TEST_BACKENDS, useBackend } from '../testing';
import { f32, fdGrads, randn, relErr } from './gradCheck.testkit';
import { lmHeadTokenEntropies } from './lmHeadEntropies';

/** float64 reference: Σ_i r_i·H(softmax(h_i·W / T)), W as [D, V]. */
function refLoss(
  h: Float64Array,
  w: Float64Array,
  r: Float64Array,
  n: number,
  d: number,
  v: number,
  temp: number,
): { total: number; ent: Float64Array } {
  const ent = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const z = new Float64Array(v);
    for (let j = 0; j < v; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += h[i * d + k]! * w[k * v + j]!;
      z[j] = s / temp;
    }
    const m = Math.max(...z);
    let se = 0;
    for (let j = 0; j < v; j++) se += Math.exp(z[j]! - m);
    const lse = m + Math.log(se);
    let H = 0;
    for (let j = 0; j < v; j++) {
      const lp = z[j]! - lse;
      H -= Math.exp(lp) * lp;
    }
    ent[i] = H;
    total += r[i]! * H;
  }
  return { total, ent };
}

describe.each(TEST_BACKENDS)('lmHeadTokenEntropies on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  const [n, d, v] = [9, 5, 13];
  const rng = new Rng(7);
  const h64 = f32(randn(rng, n * d, 1.2));
  const w64 = f32(randn(rng, d * v, 1));
  const r64 = f32(randn(rng, n));

  for (const vocabMajor of [false, true]) {
    for (const temperature of [1, 0.7]) {
      it(`matches a float64 reference and its finite differences (vocabMajor ${vocabMajor}, T ${temperature}) for every chunk size`, () => {
        const { ent } = refLoss(h64, w64, r64, n, d, v, temperature);
        const [gh, gw] = fdGrads(
          ([a, b]) => refLoss(a!, b!, r64, n, d, v, temperature).total,
          [Float64Array.from(h64), Float64Array.from(w64)],
        );
        // the [V, D] layout of the same head
        const wVD = new Float64Array(v * d);
        for (let k = 0; k < d; k++) for (let j = 0; j < v; j++) wVD[j * d + k] = w64[k * v + j]!;
        const before = tf.memory().numTensors;
        const h = tf.tensor2d(Float32Array.from(h64), [n, d]);
        const w = vocabMajor
          ? tf.tensor2d(Float32Array.from(wVD), [v, d])
          : tf.tensor2d(Float32Array.from(w64), [d, v]);
        const r = tf.tensor1d(Float32Array.from(r64));
        for (const chunkRows of [1, 4, n, 100]) {
          const opts = { chunkRows, temperature, vocabMajor };
          const value = tf.tidy(() => lmHeadTokenEntropies(h, w, opts));
          const [dh, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
            tf.sum(tf.mul(lmHeadTokenEntropies(a as tf.Tensor2D, b as tf.Tensor2D, opts), r)),
          )([h, w]);
          expect(relErr(value.dataSync(), ent)).toBeLessThan(1e-5);
          expect(relErr(dh!.dataSync(), gh!)).toBeLessThan(1e-4);
          const gwLayout = vocabMajor
            ? Float64Array.from({ length: v * d }, (_, i) => gw![(i % d) * v + Math.floor(i / d)]!)
            : gw!;
          expect(relErr(dw!.dataSync(), gwLayout)).toBeLessThan(1e-4);
          tf.dispose([value, dh!, dw!]);
        }
        tf.dispose([h, w, r]);
        expect(tf.memory().numTensors).toBe(before);
      });
    }
  }

  it('is log V for a uniform distribution and 0-gradient there', () => {
    const h = tf.zeros([3, 4]) as tf.Tensor2D;
    const w = tf.tensor2d(Float32Array.from(randn(new Rng(1), 4 * 6)), [4, 6]);
    const e = lmHeadTokenEntropies(h, w, { chunkRows: 2 });
    expect(Array.from(e.dataSync())).toEqual(
      [Math.log(6), Math.log(6), Math.log(6)].map((x) =>
        expect.closeTo(x, 6),
      ) as unknown as number[],
    );
    const dw = tf.grad((b: tf.Tensor) => tf.sum(lmHeadTokenEntropies(h, b as tf.Tensor2D)))(w);
    expect(Math.max(...Array.from(dw.dataSync()).map(Math.abs))).toBe(0);
    tf.dispose([h, w, e, dw]);
  });

  it('rejects bad shapes and options', () => {
    const h = tf.zeros([2, 3]) as tf.Tensor2D;
    const w = tf.zeros([3, 5]) as tf.Tensor2D;
    expect(() => lmHeadTokenEntropies(h, w, { vocabMajor: true })).toThrow(/head \[V,D\]/);
    expect(() => lmHeadTokenEntropies(h, w, { chunkRows: 0 })).toThrow(/chunkRows/);
    tf.dispose([h, w]);
  });
});

describe('lmHeadTokenEntropies memory', () => {
  beforeAll(async () => {
    await useBackend('cpu');
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
      const info = await tf.profile(() =>
        tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(lmHeadTokenEntropies(a as tf.Tensor2D, b as tf.Tensor2D, { chunkRows })),
        )([h, w]),
      );
      tf.dispose([h, ...(info.result as tf.Tensor[])]);
      return info.peakBytes;
    };
    const perRow = ((await peak(256)) - (await peak(128))) / 128;
    expect(perRow).toBeGreaterThanOrEqual(4 * d * 4);
    expect(perRow).toBeLessThan((4 * d + 16) * 4);
    tf.dispose(w);
  });

  it('peak bytes of forward + backward are bounded by the chunk, not by [N, V]', async () => {
    const [d, v, chunkRows, n] = [16, 2048, 32, 512];
    const rng = new Rng(3);
    const w = tf.tensor2d(Float32Array.from(randn(rng, d * v, 0.1)), [d, v]);
    const h = tf.tensor2d(Float32Array.from(randn(rng, n * d)), [n, d]);
    const base = tf.memory().numBytes;
    const info = await tf.profile(() => {
      tf.dispose(
        tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(lmHeadTokenEntropies(a as tf.Tensor2D, b as tf.Tensor2D, { chunkRows })),
        )([h, w]),
      );
      return [];
    });
    const peak = info.peakBytes - base;
    const full = n * v * 4; // 4 MiB: the [N, V] logits
    const chunk = chunkRows * v * 4; // 256 KiB
    // a few chunk buffers plus the head gradient and [N, D] pieces
    expect(peak).toBeLessThan(8 * chunk + 2 * d * v * 4 + 8 * n * d * 4);
    expect(peak).toBeLessThan(full / 2);
    tf.dispose([h, w]);
  });
});
