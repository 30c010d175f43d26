import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { TEST_BACKENDS, useBackend } from '@rxrl/core';
import { KVCache } from './kvCache';
import { CausalLM } from './causalLM';
import { presetConfig } from './modelConfig';
import { generateStep, prefill } from './decode';

// One layer, Hkv = 2, Dh = 3: the value at [b, s, h, d] is a code that names it,
// so every copy can be checked exactly.
const H = 2;
const D = 3;
const code = (b: number, s: number, h: number, d: number, layer = 0, isV = 0) =>
  10000 * isV + 1000 * layer + 100 * b + 10 * s + h * D + d + 0.5;
function block(batch: number, from: number, t: number, layer = 0, isV = 0): tf.Tensor4D {
  const out = new Float32Array(batch * t * H * D);
  for (let b = 0; b < batch; b++)
    for (let s = 0; s < t; s++)
      for (let h = 0; h < H; h++)
        for (let d = 0; d < D; d++)
          out[((b * t + s) * H + h) * D + d] = code(b, from + s, h, d, layer, isV);
  return tf.tensor4d(out, [batch, t, H, D]);
}
function expected(rows: number[], len: number, layer = 0, isV = 0): number[] {
  const out: number[] = [];
  for (const b of rows)
    for (let s = 0; s < len; s++)
      for (let h = 0; h < H; h++)
        for (let d = 0; d < D; d++) out.push(code(b, s, h, d, layer, isV));
  return out;
}
/** Append `t` positions to every layer of `cache`, as a forward pass does; returns the layers' full k/v values. */
function step(cache: KVCache, mask: number[], t: number): { k: number[]; v: number[] }[] {
  cache.appendMask(mask, t);
  const out: { k: number[]; v: number[] }[] = [];
  for (let l = 0; l < cache.numLayers; l++) {
    tf.tidy(() => {
      const { k, v } = cache.update(
        l,
        block(cache.batch, cache.length - t, t, l, 0),
        block(cache.batch, cache.length - t, t, l, 1),
      );
      expect(k.shape).toEqual([cache.batch, cache.length, H, D]);
      out.push({ k: [...k.dataSync()], v: [...v.dataSync()] });
    });
  }
  return out;
}

for (const backend of TEST_BACKENDS) {
  describe(`KVCache storage (${backend})`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });

    it('returns positions cumsum(mask) − 1 and the exact keys/values written, across doublings of the capacity', () => {
      const cache = new KVCache(2, 2, { max_cache_len: 3 });
      expect(cache.capacity).toBe(3);
      // row 0 left-padded by 2, row 1 full
      expect([...cache.appendMask([0, 0, 1, 1, 1, 1], 3)]).toEqual([0, 0, 0, 0, 1, 2]);
      for (let l = 0; l < 2; l++)
        tf.tidy(() => void cache.update(l, block(2, 0, 3, l, 0), block(2, 0, 3, l, 1)));
      const caps: number[] = [];
      for (let s = 3; s < 20; s++) {
        const pos = cache.appendMask([1, 1], 1);
        expect([...pos]).toEqual([s - 2, s]);
        for (let l = 0; l < 2; l++) {
          tf.tidy(() => {
            const { k, v } = cache.update(l, block(2, s, 1, l, 0), block(2, s, 1, l, 1));
            expect([...k.dataSync()]).toEqual(expected([0, 1], s + 1, l, 0));
            expect([...v.dataSync()]).toEqual(expected([0, 1], s + 1, l, 1));
          });
        }
        caps.push(cache.capacity);
      }
      // 3 → 16 (the minimum growth) → 32: doubling, not one step at a time
      expect([...new Set(caps)]).toEqual([16, 32]);
      expect(cache.length).toBe(20);
      expect([...cache.mask.subarray(0, 4)]).toEqual([0, 0, 1, 1]);
      expect(cache.mask.length).toBe(40);
      cache.dispose();
    });

    it('a tensor returned earlier keeps its values after later writes and growth', () => {
      const cache = new KVCache(1, 1, { max_cache_len: 2 });
      const first = tf.tidy(() => {
        cache.appendMask([1, 1], 2);
        return cache.update(0, block(1, 0, 2), block(1, 0, 2)).k;
      });
      for (let s = 2; s < 9; s++) step(cache, [1], 1);
      expect([...first.dataSync()]).toEqual(expected([0], 2));
      first.dispose();
      cache.dispose();
    });

    it('select copies the chosen rows (repeats allowed) and their positions continue from each row', () => {
      const cache = new KVCache(2, 3, { max_cache_len: 4 });
      step(cache, [0, 0, 1, 1, 0, 1, 1, 1, 1], 3);
      step(cache, [1, 1, 1], 1);
      const picked = cache.select([2, 0, 2]);
      expect(picked.batch).toBe(3);
      expect(picked.length).toBe(4);
      expect([...picked.mask]).toEqual([1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1]);
      // real tokens so far: row 2 → 4, row 0 → 2; the next position is that count
      expect([...picked.appendMask([1, 1, 1], 1)]).toEqual([4, 2, 4]);
      for (let l = 0; l < 2; l++) {
        tf.tidy(() => {
          const { k, v } = picked.update(l, block(3, 4, 1, l, 0), block(3, 4, 1, l, 1));
          // rows 0..3 of the picked cache come from source rows 2, 0, 2; position 4 is the new block's row i
          const want = (isV: number) =>
            [0, 1, 2].flatMap((i) => {
              const src = [2, 0, 2][i]!;
              const row: number[] = [];
              for (let s = 0; s < 5; s++)
                for (let h = 0; h < H; h++)
                  for (let d = 0; d < D; d++) row.push(code(s < 4 ? src : i, s, h, d, l, isV));
              return row;
            });
          expect([...k.dataSync()]).toEqual(want(0));
          expect([...v.dataSync()]).toEqual(want(1));
        });
      }
      // the source cache is untouched and still usable
      expect(step(cache, [1, 1, 1], 1)[1]!.k).toEqual(expected([0, 1, 2], 5, 1, 0));
      expect(() => cache.select([3])).toThrow(/row 3 outside the cache's batch 3/);
      picked.dispose();
      cache.dispose();
    });

    it('names misuse: a missing layer update, a wrong shape, use after dispose', () => {
      const cache = new KVCache(2, 1);
      cache.appendMask([1], 1);
      tf.tidy(() => void cache.update(0, block(1, 0, 1), block(1, 0, 1)));
      expect(() => cache.appendMask([1], 1)).toThrow(/layer 1 holds 0 positions, expected 1/);
      expect(() =>
        tf.tidy(() => cache.update(1, block(1, 0, 1), tf.zeros([1, 1, 1, 3]) as tf.Tensor4D)),
      ).toThrow(/equal shapes/);
      cache.dispose();
      expect(() => cache.appendMask([1], 1)).toThrow(/used after dispose/);
    });

    it('holds no tensors: numTensors is flat over 200 steps with growth', () => {
      const before = tf.memory().numTensors;
      const cache = new KVCache(2, 2, { max_cache_len: 1 });
      for (let s = 0; s < 200; s++) step(cache, [1, 1], 1);
      expect(cache.capacity).toBe(256);
      expect(tf.memory().numTensors).toBe(before);
      cache.dispose();
    });
  });
}

describe('KVCache with a model (wasm)', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });

  function relErr(
    got: ArrayLike<number>,
    gotOff: number,
    want: ArrayLike<number>,
    wantOff: number,
    n: number,
  ): number {
    let diff = 0;
    let ref = 0;
    for (let j = 0; j < n; j++) {
      diff = Math.max(diff, Math.abs(got[gotOff + j]! - want[wantOff + j]!));
      ref = Math.max(ref, Math.abs(want[wantOff + j]!));
    }
    return diff / ref;
  }

  it('select([2, 0, 2]) mid-decode equals decoding those prompts alone, within 1e-4', () => {
    const model = CausalLM.create(presetConfig('llama', 'tiny', 48), { seed: 3 });
    const V = model.config.vocabSize;
    const prompts = [
      [5, 17, 3, 44],
      [9, 2],
      [11, 30, 7],
    ];
    const T = 4;
    const ids = tf.tensor2d(
      prompts.map((p) => [...new Array(T - p.length).fill(0), ...p]),
      undefined,
      'int32',
    );
    const mask = tf.tensor2d(
      prompts.map((p) => [...new Array(T - p.length).fill(0), ...p.map(() => 1)]),
      undefined,
      'int32',
    );
    // fixed tokens per source row, so the batched and the solo runs feed the same ones
    const toks = [
      [3, 8, 1, 40, 2, 9],
      [6, 6, 6, 6, 6, 6],
      [12, 0, 33, 5, 21, 4],
    ];
    const batched = prefill(model, ids, mask);
    let cache = batched.cache;
    const got: Float32Array[] = [batched.logits.dataSync() as Float32Array];
    batched.logits.dispose();
    let rows = [0, 1, 2];
    for (let s = 0; s < 6; s++) {
      if (s === 3) {
        const picked = cache.select([2, 0, 2]);
        cache.dispose();
        cache = picked;
        rows = [2, 0, 2];
      }
      const l = generateStep(
        model,
        cache,
        rows.map((r) => toks[r]![s]!),
      );
      got.push(l.dataSync() as Float32Array);
      l.dispose();
    }
    cache.dispose();
    // each selected row alone, unpadded, fed the same tokens
    for (const r of [2, 0]) {
      const alone = prefill(model, tf.tensor2d([prompts[r]!], undefined, 'int32'));
      const seq = [alone.logits.dataSync() as Float32Array];
      alone.logits.dispose();
      for (const tok of toks[r]!) {
        const l = generateStep(model, alone.cache, [tok]);
        seq.push(l.dataSync() as Float32Array);
        l.dispose();
      }
      alone.cache.dispose();
      for (let j = 0; j <= 6; j++) {
        // logits j ≤ 3 come before the select (rows [0, 1, 2]); after it rows are [2, 0, 2]
        const at = j <= 3 ? [r] : [2, 0, 2].flatMap((x, i) => (x === r ? [i] : []));
        for (const i of at) expect(relErr(got[j]!, i * V, seq[j]!, 0, V)).toBeLessThan(1e-4);
      }
    }
    tf.dispose([ids, mask]);
    model.dispose();
  });

  it('a capacity of 1 grown by doubling gives the same logits as a preallocated cache, with numTensors flat', () => {
    const model = CausalLM.create(presetConfig('qwen3', 'tiny', 40), { seed: 2 });
    const ids = tf.tensor2d(
      [
        [0, 0, 4, 5],
        [1, 2, 3, 4],
      ],
      undefined,
      'int32',
    );
    const mask = tf.tensor2d(
      [
        [0, 0, 1, 1],
        [1, 1, 1, 1],
      ],
      undefined,
      'int32',
    );
    const run = (cap: number) => {
      const cache = new KVCache(model.config.numLayers, 2, { max_cache_len: cap });
      const first = model.logits(ids, mask, cache);
      const out: number[] = [...first.dataSync()];
      first.dispose();
      for (let s = 0; s < 24; s++) {
        const l = generateStep(model, cache, [s % 40, (7 * s) % 40]);
        out.push(...l.dataSync());
        l.dispose();
      }
      const capacity = cache.capacity;
      cache.dispose();
      return { out, capacity };
    };
    run(1); // warm-up: kernels may allocate persistent helpers on first use
    const before = tf.memory().numTensors;
    const grown = run(1);
    const prealloc = run(28);
    expect(tf.memory().numTensors).toBe(before);
    expect(grown.capacity).toBe(32);
    expect(prealloc.capacity).toBe(28);
    expect(grown.out).toEqual(prealloc.out);
    tf.dispose([ids, mask]);
    model.dispose();
  });
});
