import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../base/rng';
import { nativeBackendCalls } from '../backend/nativeBackend';
import { nativeMatmulAddon } from '../backend/nativeMatmul';
import { LM_HEAD_GRAD_KERNEL, LM_HEAD_KERNEL } from '../backend/nativeNames';
import { nativeTestBackendAvailable, useBackend } from '../testing';
import { randn } from './gradCheck.testkit';
import { lmHeadTokenLogProbs } from './lmHeadLogProbs';
import { withoutNativeLmHead } from './lmHeadNative.testkit';

// The native LM-head kernels (native/src/lmhead.c) against the op-by-op chunked path
// they replace on the same backend: the same products and row kernels in the same
// order, so the same bits — values, hidden gradients and head gradients summed over
// chunks — for both head layouts, temperatures and chunk sizes.

function run(
  h: tf.Tensor2D,
  w: tf.Tensor2D,
  t: tf.Tensor1D,
  r: tf.Tensor1D,
  opts: Parameters<typeof lmHeadTokenLogProbs>[3],
): number[][] {
  const op = (a: tf.Tensor, b: tf.Tensor) =>
    lmHeadTokenLogProbs(a as tf.Tensor2D, b as tf.Tensor2D, t, opts);
  const value = tf.tidy(() => op(h, w));
  const [dh, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(op(a, b), r)))([h, w]);
  const out = [value, dh!, dw!].map((x) => Array.from(x.dataSync()));
  tf.dispose([value, dh!, dw!]);
  return out;
}

describe.runIf(nativeTestBackendAvailable())('native LM-head kernels', () => {
  beforeAll(async () => {
    await useBackend('native');
  });

  const [n, d, v] = [29, 12, 301];
  const rng = new Rng(21);
  const hData = Float32Array.from(randn(rng, n * d, 1.5));
  const wData = Float32Array.from(randn(rng, d * v, 1));
  const rData = Float32Array.from(randn(rng, n));
  const tData = Int32Array.from({ length: n }, () => rng.int(v));

  it('forward and backward each run as one kernel', async () => {
    const h = tf.tensor2d(hData, [n, d]);
    const w = tf.tensor2d(wData, [d, v]);
    const t = tf.tensor1d(tData, 'int32');
    const r = tf.tensor1d(rData);
    const calls = nativeBackendCalls();
    const info = await tf.profile(() => {
      run(h, w, t, r, { chunkRows: 8 });
    });
    const names = info.kernels.map((k) => k.name);
    expect(names.filter((k) => k === LM_HEAD_KERNEL)).toHaveLength(2); // value, then in grads
    expect(names.filter((k) => k === LM_HEAD_GRAD_KERNEL)).toHaveLength(1);
    // no [rows, V] product left outside the kernels
    const wide = info.kernels.filter(
      (k) => k.name === 'BatchMatMul' && k.outputShapes.some((s) => s?.includes(v)),
    );
    expect(wide).toHaveLength(0);
    expect(nativeBackendCalls()).toBeGreaterThan(calls);
    tf.dispose([h, w, t, r]);
  });

  for (const vocabMajor of [false, true])
    for (const temperature of [1, 0.7])
      it(`gives the op-by-op path's bits (vocabMajor ${vocabMajor}, T ${temperature}, chunks of 1, 8 and all rows)`, () => {
        const before = tf.memory().numTensors;
        const h = tf.tensor2d(hData, [n, d]);
        const wDV = tf.tensor2d(wData, [d, v]);
        const w = vocabMajor ? (tf.transpose(wDV) as tf.Tensor2D) : wDV;
        const t = tf.tensor1d(tData, 'int32');
        const r = tf.tensor1d(rData);
        for (const chunkRows of [1, 8, n]) {
          const opts = { chunkRows, temperature, vocabMajor };
          const fused = run(h, w, t, r, opts);
          const opByOp = withoutNativeLmHead(() => run(h, w, t, r, opts));
          expect(fused).toEqual(opByOp);
          expect(Math.max(...fused[2]!.map(Math.abs))).toBeGreaterThan(1e-3);
        }
        tf.dispose([h, wDV, w, t, r]);
        expect(tf.memory().numTensors).toBe(before);
      });

  it("reuses the forward's logits in the backward only while the scratch still holds them", () => {
    const addon = nativeMatmulAddon()!;
    const h = tf.tensor2d(hData, [n, d]);
    const h2 = tf.tensor2d(
      hData.map((x) => -x),
      [n, d],
    );
    const w = tf.tensor2d(wData, [d, v]);
    const t = tf.tensor1d(tData, 'int32');
    const r = tf.tensor1d(rData);
    const stats = () => addon.lmHeadStats!();
    // the backward follows its own forward directly: one chunk, or up to six (their
    // logits kept side by side)
    for (const chunkRows of [n, 8]) {
      const [reused, recomputed] = stats();
      run(h, w, t, r, { chunkRows });
      expect(stats()).toEqual([reused + 1, recomputed]);
    }
    const single = run(h, w, t, r, { chunkRows: n });
    // more than six chunks: only one chunk's worth of scratch, so the logits are recomputed
    let [reused, recomputed] = stats();
    run(h, w, t, r, { chunkRows: 4 });
    expect(stats()).toEqual([reused, recomputed + 1]);
    // two heads on one tape: the second forward replaces the first's logits, its backward
    // (run first) reuses them and the first's backward recomputes — and both are exact
    const two = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
      tf.add(
        tf.sum(tf.mul(lmHeadTokenLogProbs(a as tf.Tensor2D, c as tf.Tensor2D, t), r)),
        tf.sum(lmHeadTokenLogProbs(b as tf.Tensor2D, c as tf.Tensor2D, t)),
      );
    const grads = (): number[][] => {
      const g = tf.grads(two)([h, h2, w]);
      const out = g.map((x) => Array.from(x.dataSync()));
      tf.dispose(g);
      return out;
    };
    [reused, recomputed] = stats();
    const fused = grads();
    expect(stats()).toEqual([reused + 1, recomputed + 1]);
    expect(fused).toEqual(withoutNativeLmHead(grads));
    expect(fused[0]).toEqual(single[1]);
    tf.dispose([h, h2, w, t, r]);
  });

  it('a frozen head gets zeros and the same hidden gradient', () => {
    const h = tf.tensor2d(hData, [n, d]);
    const w = tf.tensor2d(wData, [d, v]);
    const frozen = tf.variable(w, false);
    const t = tf.tensor1d(tData, 'int32');
    const r = tf.tensor1d(rData);
    const live = run(h, w, t, r, { chunkRows: 8 });
    const got = run(h, frozen, t, r, { chunkRows: 8 });
    expect(got[0]).toEqual(live[0]);
    expect(got[1]).toEqual(live[1]);
    expect(Math.max(...got[2]!.map(Math.abs))).toBe(0);
    tf.dispose([h, w, frozen, t, r]);
  });

  it('rejects a target id outside the vocabulary before any work', () => {
    const h = tf.tensor2d(hData, [n, d]);
    const w = tf.tensor2d(wData, [d, v]);
    const bad = Int32Array.from(tData);
    bad[5] = v;
    const t = tf.tensor1d(bad, 'int32');
    expect(() => tf.tidy(() => lmHeadTokenLogProbs(h, w, t))).toThrow(
      /target id is outside the vocabulary/,
    );
    tf.dispose([h, w, t]);
  });
});
