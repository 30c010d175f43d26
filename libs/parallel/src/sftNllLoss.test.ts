import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@rxrl/core';
import { CausalLM, presetConfig } from '@rxrl/model';
import { sftNllLoss, sftTrainBatch } from './sftNllLoss';
import { shardRows, type TrainBatch } from './trainBatch';

const rows = 3;
const T = 5;
const inputIds = Int32Array.from({ length: rows * T }, (_, i) => (i * 5) % 32);
const targets = Int32Array.from({ length: rows * T }, (_, i) => (i * 11 + 3) % 32);
const tokenMask = Float32Array.from({ length: rows * T }, (_, i) => (i % 4 === 0 ? 0 : 1));
let model: CausalLM;

beforeAll(async () => {
  await useBackend('wasm');
  model = CausalLM.create(presetConfig('llama', 'tiny', 32), { seed: 5 });
});
afterAll(() => model.dispose());

describe('sftNllLoss', () => {
  it('is −Σ log p·mask / N over the global batch, and shard losses add up to it', () => {
    const batch = sftTrainBatch({ rows, inputIds, targets, tokenMask });
    const n = tokenMask.reduce((a, b) => a + b, 0);
    expect(batch.globals).toEqual({ global_valid_toks: n });
    const lp = tf.tidy(() =>
      model
        .tokenLogProbs(
          tf.tensor2d(inputIds, [rows, T], 'int32'),
          null,
          tf.tensor2d(targets, [rows, T], 'int32'),
        )
        .dataSync(),
    );
    let expected = 0; // float64 reference from the model's own log-probs
    for (let i = 0; i < lp.length; i++) expected -= lp[i]! * tokenMask[i]!;
    expected /= n;
    const full = sftNllLoss(model, batch);
    expect(full.dataSync()[0]!).toBeCloseTo(expected, 5);
    const parts = shardRows(batch, 2).map((s) => {
      const l = sftNllLoss(model, s);
      const v = l.dataSync()[0]!;
      l.dispose();
      return v;
    });
    expect(parts[0]! + parts[1]!).toBeCloseTo(expected, 5);
    expect(parts[0]!).toBeGreaterThan(0);
    full.dispose();
  });

  it('is 0 for an empty shard and names a missing or mistyped column', () => {
    const empty: TrainBatch = {
      rows: 0,
      columns: {
        input_ids: new Int32Array(0),
        targets: new Int32Array(0),
        token_mask: new Float32Array(0),
      },
      globals: { global_valid_toks: 4 },
    };
    const z = sftNllLoss(model, empty);
    expect(z.dataSync()[0]).toBe(0);
    z.dispose();
    const bad: TrainBatch = {
      rows,
      columns: { input_ids: inputIds, targets, token_mask: new Int32Array(rows * T) },
      globals: { global_valid_toks: 4 },
    };
    expect(() => sftNllLoss(model, bad)).toThrow(
      /column 'token_mask' must be a Float32Array, got Int32Array/,
    );
    expect(() => sftNllLoss(model, { ...bad, globals: {} })).toThrow(/globals.global_valid_toks/);
  });
});
