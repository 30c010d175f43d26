// Every op checks its inputs and names what it expected: each shape, rank and
// dtype rule on its own (one wrong thing at a time), and the nearest valid input.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../testing';
import { attention } from './attention';
import { embedding } from './embedding';
import { layerNorm } from './layerNorm';
import { linear, linearTransposed } from './linear';
import { logSoftmax } from './logSoftmax';
import { rmsNorm } from './rmsNorm';
import { applyRope, positionsFromMask, ropeCosSin, ropeInvFreq } from './rope';
import { tokenLogProbs } from './tokenLogProbs';

const z = (...shape: number[]) => tf.zeros(shape);

describe('op input errors', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });

  it('layerNorm: gamma and beta are [d] each', () => {
    const x = z(2, 3);
    const msg = /layerNorm: expected gamma and beta \[3\]/;
    expect(() => layerNorm(x, z(2) as tf.Tensor1D, z(3) as tf.Tensor1D, 1e-5)).toThrow(msg);
    expect(() => layerNorm(x, z(3) as tf.Tensor1D, z(2) as tf.Tensor1D, 1e-5)).toThrow(msg);
    expect(() => layerNorm(x, z(3, 1) as tf.Tensor1D, z(3) as tf.Tensor1D, 1e-5)).toThrow(msg);
    expect(() => layerNorm(x, z(3) as tf.Tensor1D, z(3, 1) as tf.Tensor1D, 1e-5)).toThrow(msg);
    expect(() => layerNorm(x, z(3) as tf.Tensor1D, z(3) as tf.Tensor1D, 1e-5)).not.toThrow();
  });

  it('layerNorm normalises over the last axis: rows [1, 3] and [2, 6] → ±1', () => {
    const y = layerNorm(
      tf.tensor2d([
        [1, 3],
        [2, 6],
      ]),
      tf.tensor1d([1, 1]),
      tf.tensor1d([0, 0]),
      0,
    );
    expect(Array.from(y.dataSync()).map((v) => Math.round(v * 1e5) / 1e5)).toEqual([-1, 1, -1, 1]);
  });

  it('layerNorm and logSoftmax reduce the last axis of a rank-3 input, not axis 1', () => {
    const y = layerNorm(
      tf.tensor3d([
        [
          [1, 3],
          [2, 6],
        ],
      ]),
      tf.tensor1d([1, 1]),
      tf.tensor1d([0, 0]),
      0,
    );
    expect(Array.from(y.dataSync()).map((v) => Math.round(v * 1e5) / 1e5)).toEqual([-1, 1, -1, 1]);
    // log_softmax of [0, ln 3] is [−ln 4, ln 3 − ln 4]
    const l = logSoftmax(
      tf.tensor3d([
        [
          [0, Math.log(3)],
          [0, 0],
        ],
      ]),
    );
    const v = Array.from(l.dataSync());
    [-Math.log(4), Math.log(3) - Math.log(4), -Math.LN2, -Math.LN2].forEach((w, i) =>
      expect(v[i]).toBeCloseTo(w, 5),
    );
  });

  it('rmsNorm: weight is [d]', () => {
    expect(() => rmsNorm(z(2, 3), z(2) as tf.Tensor1D, 1e-6)).toThrow(
      /rmsNorm: expected weight \[3\]/,
    );
    expect(() => rmsNorm(z(2, 3), z(3, 1) as tf.Tensor1D, 1e-6)).toThrow(/expected weight \[3\]/);
  });

  it('linear and linearTransposed: 2-D inputs with matching inner sizes; bias [out]', () => {
    const w = z(3, 4) as tf.Tensor2D;
    expect(() => linear(z(2, 3, 1) as tf.Tensor2D, w)).toThrow(/linear: expected x \[N,in\]/);
    expect(() => linear(z(2, 3) as tf.Tensor2D, z(3, 4, 1) as tf.Tensor2D)).toThrow(
      /linear: expected/,
    );
    expect(() => linear(z(2, 2) as tf.Tensor2D, w)).toThrow(/linear: expected/);
    expect(() => linear(z(2, 3) as tf.Tensor2D, w, z(3) as tf.Tensor1D)).toThrow(
      'linear: expected bias [4], got [3]',
    );
    expect(() => linear(z(2, 3) as tf.Tensor2D, w, z(4, 1) as tf.Tensor1D)).toThrow(
      'linear: expected bias [4], got [4,1]',
    );
    expect(linear(z(2, 3) as tf.Tensor2D, w, z(4) as tf.Tensor1D).shape).toEqual([2, 4]);
    const wt = z(4, 3) as tf.Tensor2D;
    expect(() => linearTransposed(z(2, 3, 1) as tf.Tensor2D, wt)).toThrow(
      /linearTransposed: expected/,
    );
    expect(() => linearTransposed(z(2, 3) as tf.Tensor2D, z(4, 3, 1) as tf.Tensor2D)).toThrow(
      /linearTransposed: expected/,
    );
    expect(() => linearTransposed(z(2, 4) as tf.Tensor2D, wt)).toThrow(
      /linearTransposed: expected/,
    );
    expect(linearTransposed(z(2, 3) as tf.Tensor2D, wt).shape).toEqual([2, 4]);
  });

  it('tokenLogProbs: logits [N, V], targets int32 [N]', () => {
    const logits = z(2, 5) as tf.Tensor2D;
    expect(() => tokenLogProbs(z(2, 5, 1) as tf.Tensor2D, tf.tensor1d([0, 1], 'int32'))).toThrow(
      /expected logits \[N,V\]/,
    );
    const msg = /tokenLogProbs: expected targets as int32 \[2\]/;
    expect(() => tokenLogProbs(logits, tf.tensor2d([[0, 1]], [1, 2], 'int32') as never)).toThrow(
      msg,
    );
    // rank 2 with N rows: the row count alone would pass it (and broadcasting would too)
    expect(() => tokenLogProbs(logits, tf.tensor2d([[0], [1]], [2, 1], 'int32') as never)).toThrow(
      msg,
    );
    expect(() => tokenLogProbs(logits, tf.tensor1d([0, 1], 'float32'))).toThrow(msg);
    expect(() => tokenLogProbs(logits, tf.tensor1d([0, 1, 2], 'int32'))).toThrow(msg);
  });

  it('attention: k and v [B, S, Hkv, Dh] alike; Hq a multiple of Hkv; keyMask [B, S]; segments need T = S', () => {
    const q = z(2, 3, 4, 8) as tf.Tensor4D;
    const kv = z(2, 5, 2, 8) as tf.Tensor4D;
    const shapes = /attention: expected k and v \[2,S,Hkv,8\] with equal shapes/;
    expect(() => attention(q, z(1, 5, 2, 8) as tf.Tensor4D, z(1, 5, 2, 8) as tf.Tensor4D)).toThrow(
      shapes,
    );
    expect(() => attention(q, z(2, 5, 2, 4) as tf.Tensor4D, z(2, 5, 2, 4) as tf.Tensor4D)).toThrow(
      shapes,
    );
    expect(() => attention(q, kv, z(2, 6, 2, 8) as tf.Tensor4D)).toThrow(shapes);
    expect(() => attention(q, z(2, 5, 3, 8) as tf.Tensor4D, z(2, 5, 3, 8) as tf.Tensor4D)).toThrow(
      'attention: query heads (4) must be a multiple of kv heads (3)',
    );
    const mask = /attention: expected keyMask \[2,5\], got /;
    expect(() => attention(q, kv, kv, { keyMask: z(2, 5, 1) as tf.Tensor2D })).toThrow(mask);
    expect(() => attention(q, kv, kv, { keyMask: z(1, 5) as tf.Tensor2D })).toThrow(mask);
    expect(() => attention(q, kv, kv, { keyMask: z(2, 4) as tf.Tensor2D })).toThrow(mask);
    // a cached decode (T 3 < S 5) cannot take segments, even with B·S ids
    expect(() => attention(q, kv, kv, { segmentIds: new Int32Array(10).fill(1) })).toThrow(
      'attention: segmentIds needs self-attention (T = S) and length B·S = 10, got T 3, S 5, length 10',
    );
    const self = z(2, 5, 2, 8) as tf.Tensor4D;
    expect(() => attention(self, self, self, { segmentIds: new Int32Array(9).fill(1) })).toThrow(
      'attention: segmentIds needs self-attention (T = S) and length B·S = 10, got T 5, S 5, length 9',
    );
    expect(() =>
      attention(q, kv, kv, { keyMask: tf.ones([2, 5]) as tf.Tensor2D }).dispose(),
    ).not.toThrow();
  });

  it('embedding: table [V, D], ids a 1-D int32 tensor', () => {
    const ids = tf.tensor1d([0, 1], 'int32');
    expect(() => embedding(z(2, 3, 1) as tf.Tensor2D, ids)).toThrow(/expected table \[V,D\]/);
    expect(() => embedding(z(2, 3) as tf.Tensor2D, tf.tensor1d([0, 1], 'float32'))).toThrow(
      'embedding: expected ids as a 1-D int32 tensor, got rank 1 float32',
    );
    expect(() =>
      embedding(z(2, 3) as tf.Tensor2D, tf.tensor2d([[0]], [1, 1], 'int32') as never),
    ).toThrow(/got rank 2 int32/);
  });

  it('rope: head size a positive even integer; llama3 the only scaling; lengths match', () => {
    const msg = /rope: headDim must be a positive even integer/;
    for (const headDim of [0, -2, 3, 2.5])
      expect(() => ropeInvFreq({ headDim, ropeTheta: 1e4 })).toThrow(msg);
    // 1/θ^(2i/d) for d = 4: 1, 1/100
    expect(Array.from(ropeInvFreq({ headDim: 4, ropeTheta: 1e4 }))).toEqual([1, 0.01]);
    expect(() =>
      ropeInvFreq({ headDim: 4, ropeTheta: 1e4, ropeScaling: { rope_type: 'yarn' } as never }),
    ).toThrow("rope: rope_scaling.rope_type 'yarn' is not supported");
    expect(() => positionsFromMask([1, 1, 1], 2, 2)).toThrow(
      'positionsFromMask: mask has 3 entries, expected batch*seqLen = 4',
    );
    expect(() => ropeCosSin(Int32Array.of(0, 1, 2), 2, 2, { headDim: 4, ropeTheta: 1e4 })).toThrow(
      'ropeCosSin: positions has 3 entries, expected batch*seqLen = 4',
    );
    const x = z(1, 2, 3, 4) as tf.Tensor4D;
    const ok = z(1, 2, 4) as tf.Tensor3D;
    const bad = /applyRope: expected cos\/sin \[1,2,4\]/;
    expect(() => applyRope(x, z(2, 2, 4) as tf.Tensor3D, z(2, 2, 4) as tf.Tensor3D)).toThrow(bad);
    expect(() => applyRope(x, z(1, 3, 4) as tf.Tensor3D, z(1, 3, 4) as tf.Tensor3D)).toThrow(bad);
    expect(() => applyRope(x, z(1, 2, 2) as tf.Tensor3D, z(1, 2, 2) as tf.Tensor3D)).toThrow(bad);
    expect(() => applyRope(x, ok, z(1, 2, 2) as tf.Tensor3D)).toThrow(bad);
    expect(applyRope(x, ok, ok).shape).toEqual([1, 2, 3, 4]);
  });
});
