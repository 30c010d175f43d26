import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@rxrl/core';
import { CausalLM, generateStep, prefill, presetConfig } from '@rxrl/model';
import { selectCacheRows } from './selectCacheRows';

let model: CausalLM;

beforeAll(async () => {
  await useBackend('wasm');
  model = CausalLM.create(presetConfig('qwen3', 'tiny', 40), { seed: 1 });
});

describe('selectCacheRows', () => {
  it('decoding from the selected rows gives the same logits as from the full cache', () => {
    const ids = tf.tensor2d(
      [
        [0, 0, 5, 6],
        [7, 8, 9, 10],
        [0, 11, 12, 13],
      ],
      undefined,
      'int32',
    );
    const mask = tf.tensor2d(
      [
        [0, 0, 1, 1],
        [1, 1, 1, 1],
        [0, 1, 1, 1],
      ],
      undefined,
      'int32',
    );
    const before = tf.memory().numTensors;
    const a = prefill(model, ids, mask);
    const b = prefill(model, ids, mask);
    a.logits.dispose();
    b.logits.dispose();
    const full = generateStep(model, a.cache, [3, 4, 5]);
    const fullNext = generateStep(model, a.cache, [6, 7, 8]);
    const picked = selectCacheRows(model, b.cache, Int32Array.of(2, 0));
    expect(picked.batch).toBe(2);
    expect(picked.length).toBe(4);
    expect([...picked.mask]).toEqual([0, 1, 1, 1, 0, 0, 1, 1]);
    const part = generateStep(model, picked, [5, 3]);
    const partNext = generateStep(model, picked, [8, 6]);
    const v = model.config.vocabSize;
    const f = fullNext.dataSync();
    const p = partNext.dataSync();
    const f0 = full.dataSync();
    const p0 = part.dataSync();
    for (const [i, row] of [2, 0].entries()) {
      for (let j = 0; j < v; j++) {
        expect(Math.abs(p0[i * v + j]! - f0[row * v + j]!)).toBeLessThan(1e-5);
        expect(Math.abs(p[i * v + j]! - f[row * v + j]!)).toBeLessThan(1e-5);
      }
    }
    tf.dispose([full, fullNext, part, partNext]);
    a.cache.dispose();
    picked.dispose();
    tf.dispose([ids, mask]);
    expect(tf.memory().numTensors).toBe(before - 2);
  });

  it('names a row outside the batch', () => {
    const ids = tf.tensor2d([[1, 2]], undefined, 'int32');
    const { cache, logits } = prefill(model, ids);
    logits.dispose();
    ids.dispose();
    expect(() => selectCacheRows(model, cache, Int32Array.of(1))).toThrow(
      /row 1 outside the cache's batch 1/,
    );
    cache.dispose();
  });
});
