import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@rxrl/core';
import { CausalLM } from './causalLM';
import { presetConfig } from './modelConfig';
import { loadPretrained } from './pretrained';
import { generateStep, prefill } from './decode';
import { FIXTURE_ARCHS, FIXTURE_DIR } from '../test/fixtures';

function argmaxRows(
  logits: Float32Array | Int32Array | Uint8Array,
  rows: number,
  v: number,
): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let j = 1; j < v; j++) if (logits[r * v + j]! > logits[r * v + best]!) best = j;
    out.push(best);
  }
  return out;
}

describe('KV-cache decoding (wasm)', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });

  for (const arch of FIXTURE_ARCHS) {
    it(`${arch}: prefill + 6 cached steps match a full recompute within 1e-4, left-padded batch`, async () => {
      const model = await loadPretrained(path.join(FIXTURE_DIR, arch), { trainable: false });
      const V = model.config.vocabSize;
      const prompts = [
        [5, 17, 3, 44, 9],
        [60, 2],
        [11, 0, 71, 30],
      ];
      const T = 5;
      const B = prompts.length;
      const steps = 6;
      const ids = prompts.map((p) => [...new Array(T - p.length).fill(7), ...p]);
      const mask = prompts.map((p) => [...new Array(T - p.length).fill(0), ...p.map(() => 1)]);

      const idsT = tf.tensor2d(ids, undefined, 'int32');
      const maskT = tf.tensor2d(mask, undefined, 'int32');
      const { cache, logits } = prefill(model, idsT, maskT);
      const cached: Float32Array[] = [logits.dataSync() as Float32Array];
      let next = argmaxRows(cached[0]!, B, V);
      logits.dispose();
      for (let s = 0; s < steps; s++) {
        ids.forEach((row, b) => row.push(next[b]!));
        mask.forEach((row) => row.push(1));
        const l = generateStep(model, cache, next);
        cached.push(l.dataSync() as Float32Array);
        next = argmaxRows(cached.at(-1)!, B, V);
        l.dispose();
      }
      expect(cache.length).toBe(T + steps);
      cache.dispose();

      // full recompute over the prompt + the generated tokens
      const fullIds = tf.tensor2d(ids, undefined, 'int32');
      const fullMask = tf.tensor2d(mask, undefined, 'int32');
      const full = model.logits(fullIds, fullMask);
      const fullData = full.dataSync();
      const L = T + steps;
      let worst = 0;
      for (let s = 0; s <= steps; s++) {
        let maxDiff = 0;
        let maxRef = 0;
        for (let b = 0; b < B; b++) {
          for (let j = 0; j < V; j++) {
            const want = fullData[(b * L + T - 1 + s) * V + j]!;
            maxDiff = Math.max(maxDiff, Math.abs(cached[s]![b * V + j]! - want));
            maxRef = Math.max(maxRef, Math.abs(want));
          }
        }
        worst = Math.max(worst, maxDiff / maxRef);
      }
      console.log(`${arch}: cached vs full rel err ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(1e-4);
      tf.dispose([idsT, maskT, fullIds, fullMask, full]);
      model.dispose();
    });
  }
});

describe('prefill memory', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it("holds one layer's intermediates at a time: peak bytes do not grow with the layer count", async () => {
    const [b, t] = [4, 64];
    const ids = tf.tensor2d(
      Int32Array.from({ length: b * t }, (_, i) => (i * 7) % 300),
      [b, t],
      'int32',
    );
    const peak = async (numLayers: number) => {
      const model = CausalLM.create(
        { ...presetConfig('llama', 'tiny', 300), numLayers },
        { seed: 2 },
      );
      const base = tf.memory().numBytes;
      const info = await tf.profile(() => [model.logits(ids, null, undefined, { lastOnly: true })]);
      tf.dispose(info.result as tf.Tensor[]);
      model.dispose();
      return info.peakBytes - base;
    };
    const [two, six] = [await peak(2), await peak(6)];
    // one tidy around the whole forward pass held every layer's: 8.8 MB at 6 layers, 2.8 MB now
    expect(six).toBeLessThan(1.25 * two);
    ids.dispose();
  });
});
