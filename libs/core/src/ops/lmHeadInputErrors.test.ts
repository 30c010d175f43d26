// lmHeadTokenLogProbs and lmHeadTokenEntropies check their inputs one rule at a
// time (as opsInputErrors.test.ts does for the other ops): hidden and head ranks
// and the shared size D in either head layout, targets int32 [N], chunkRows a
// positive integer, temperature a finite positive number.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../testing';
import { lmHeadTokenEntropies } from './lmHeadEntropies';
import { lmHeadTokenLogProbs } from './lmHeadLogProbs';

const z = (...shape: number[]) => tf.zeros<tf.Rank>(shape) as tf.Tensor2D;

describe('lm head input errors', () => {
  let h: tf.Tensor2D;
  let dv: tf.Tensor2D;
  let vd: tf.Tensor2D;
  let t: tf.Tensor1D;
  beforeAll(async () => {
    await useBackend('wasm');
    [h, dv, vd, t] = [z(3, 4), z(4, 6), z(6, 4), tf.tensor1d([0, 5, 2], 'int32')];
  });

  it('lmHeadTokenLogProbs: hidden [N, D], head [D, V] or [V, D], targets int32 [N]', () => {
    const heads = /lmHeadTokenLogProbs: expected hidden \[N,D\] and head \[D,V\], got \[3,4\] and /;
    expect(() => lmHeadTokenLogProbs(z(3, 4, 1), dv, t)).toThrow(/expected hidden \[N,D\]/);
    expect(() => lmHeadTokenLogProbs(h, z(4, 6, 1), t)).toThrow(heads);
    expect(() => lmHeadTokenLogProbs(h, z(5, 6), t)).toThrow(heads);
    expect(() => lmHeadTokenLogProbs(h, dv, t, { vocabMajor: true })).toThrow(
      'lmHeadTokenLogProbs: expected hidden [N,D] and head [V,D], got [3,4] and [4,6]',
    );
    const targets = /lmHeadTokenLogProbs: expected targets as int32 \[3\]/;
    expect(() => lmHeadTokenLogProbs(h, dv, tf.tensor1d([0, 5, 2]))).toThrow(targets);
    expect(() => lmHeadTokenLogProbs(h, dv, tf.tensor1d([0, 5], 'int32'))).toThrow(targets);
    expect(() =>
      lmHeadTokenLogProbs(h, dv, tf.tensor2d([[0], [5], [2]], [3, 1], 'int32') as never),
    ).toThrow(targets);
    expect(lmHeadTokenLogProbs(h, dv, t).shape).toEqual([3]);
    expect(lmHeadTokenLogProbs(h, vd, t, { vocabMajor: true }).shape).toEqual([3]);
  });

  it('lmHeadTokenLogProbs: chunkRows a positive integer, temperature finite and positive', () => {
    for (const chunkRows of [0, -2, 1.5])
      expect(() => lmHeadTokenLogProbs(h, dv, t, { chunkRows })).toThrow(
        `lmHeadTokenLogProbs: chunkRows must be a positive integer, got ${chunkRows}`,
      );
    for (const temperature of [0, -1, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => lmHeadTokenLogProbs(h, dv, t, { temperature })).toThrow(
        `lmHeadTokenLogProbs: temperature must be a positive number, got ${temperature}`,
      );
    // uniform logits: log(1/6) whatever the temperature and chunking
    const lp = lmHeadTokenLogProbs(h, dv, t, { chunkRows: 2, temperature: 0.5 });
    for (const x of lp.dataSync()) expect(x).toBeCloseTo(-Math.log(6), 6);
  });

  it('lmHeadTokenEntropies: the same shape rules; chunkRows and temperature in one message', () => {
    const heads =
      /lmHeadTokenEntropies: expected hidden \[N,D\] and head \[D,V\], got \[3,4\] and /;
    expect(() => lmHeadTokenEntropies(z(3, 4, 1), dv)).toThrow(/expected hidden \[N,D\]/);
    expect(() => lmHeadTokenEntropies(h, z(4, 6, 1))).toThrow(heads);
    expect(() => lmHeadTokenEntropies(h, z(5, 6))).toThrow(heads);
    expect(() => lmHeadTokenEntropies(h, dv, { vocabMajor: true })).toThrow(
      'lmHeadTokenEntropies: expected hidden [N,D] and head [V,D], got [3,4] and [4,6]',
    );
    const bad = (rows: number, temp: number) =>
      `lmHeadTokenEntropies: chunkRows must be a positive integer and temperature a positive number, got ${rows}, ${temp}`;
    for (const chunkRows of [0, -2, 1.5])
      expect(() => lmHeadTokenEntropies(h, dv, { chunkRows })).toThrow(bad(chunkRows, 1));
    for (const temperature of [0, -1, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => lmHeadTokenEntropies(h, dv, { chunkRows: 2, temperature })).toThrow(
        bad(2, temperature),
      );
    // uniform logits: entropy log 6
    const e = lmHeadTokenEntropies(h, vd, { vocabMajor: true, chunkRows: 2, temperature: 2 });
    for (const x of e.dataSync()) expect(x).toBeCloseTo(Math.log(6), 6);
  });
});
