import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@rxrl/core';
import { CausalLM, presetConfig } from '@rxrl/model';
import { completionEntropiesHost, policyBatch } from './policyBatch';

beforeAll(async () => {
  await useBackend('wasm');
});

describe('completionEntropiesHost', () => {
  it('aligns with the completion tokens: the entropy of the distribution that predicts each one', () => {
    const model = CausalLM.create(
      {
        ...presetConfig('llama', 'tiny', 40),
        hiddenSize: 16,
        intermediateSize: 32,
        numLayers: 1,
        numHeads: 2,
        numKvHeads: 2,
        headDim: 8,
        maxPositionEmbeddings: 16,
      },
      { seed: 3 },
    );
    // two rows with different prompt and completion lengths (left- and right-padding)
    const prompts = { values: Int32Array.of(5, 6, 7, 8, 9), offsets: Int32Array.of(0, 3, 5) };
    const completions = { values: Int32Array.of(11, 12, 13), offsets: Int32Array.of(0, 1, 3) };
    const pb = policyBatch([0, 1], prompts, completions, 0);
    const got = completionEntropiesHost(model, pb, 0.8);
    // by hand: each row unpadded, entropy at the position before completion token t
    const rows = [
      { seq: [5, 6, 7, 11], prompt: 3, n: 1 },
      { seq: [8, 9, 12, 13], prompt: 2, n: 2 },
    ];
    rows.forEach(({ seq, prompt, n }, r) => {
      const h = tf.tidy(() =>
        model
          .tokenEntropies(tf.tensor2d([seq], [1, seq.length], 'int32'), null, { temperature: 0.8 })
          .dataSync(),
      );
      for (let t = 0; t < n; t++) expect(got[r * pb.width + t]).toBeCloseTo(h[prompt - 1 + t]!, 4);
    });
    expect(pb.width).toBe(2);
    model.dispose();
  });
});
