import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@rxrl/core';
import { CausalLM } from './causalLM';
import { presetConfig, type ModelConfig } from './modelConfig';

describe('packed rows', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });

  // Two sequences (5 and 3 tokens) packed into one row of 9 with one pad slot.
  const seqs = [
    [3, 17, 22, 9, 41],
    [8, 30, 12],
  ];
  const packedIds = [...seqs[0]!, ...seqs[1]!, 0];
  const segmentIds = Int32Array.from([1, 1, 1, 1, 1, 2, 2, 2, 0]);
  const positions = Int32Array.from([0, 1, 2, 3, 4, 0, 1, 2, 0]);

  it.each(['llama', 'qwen3', 'gpt2'] as const)(
    '%s: each packed sequence gets exactly the log-probs it gets alone',
    (arch) => {
      const cfg: ModelConfig = presetConfig(arch, 'tiny', 64);
      const model = CausalLM.create(cfg, { seed: 5 });
      const targetsOf = (ids: number[]) => [...ids.slice(1), 0];
      const packed = tf.tidy(() =>
        model.tokenLogProbs(
          tf.tensor2d([packedIds], undefined, 'int32'),
          null,
          tf.tensor2d([[...targetsOf(seqs[0]!), ...targetsOf(seqs[1]!), 0]], undefined, 'int32'),
          { packing: { segmentIds, positions } },
        ),
      );
      const p = Array.from(packed.dataSync());
      let offset = 0;
      for (const seq of seqs) {
        const alone = tf.tidy(() =>
          model.tokenLogProbs(
            tf.tensor2d([seq], undefined, 'int32'),
            null,
            tf.tensor2d([targetsOf(seq)], undefined, 'int32'),
          ),
        );
        const a = Array.from(alone.dataSync());
        // every position but the last (whose target is a filler) must agree
        for (let i = 0; i < seq.length - 1; i++)
          expect(Math.abs(p[offset + i]! - a[i]!)).toBeLessThan(1e-5);
        offset += seq.length;
        alone.dispose();
      }
      packed.dispose();
      model.dispose();
    },
  );

  it('rejects packing together with a cache or mask, and wrong lengths', () => {
    const model = CausalLM.create(presetConfig('llama', 'tiny', 64), { seed: 1 });
    const ids = tf.tensor2d([packedIds], undefined, 'int32');
    const mask = tf.ones([1, 9]) as tf.Tensor2D;
    expect(() =>
      model.logits(ids, mask, undefined, { packing: { segmentIds, positions } }),
    ).toThrow(/packing replaces the attention mask/);
    expect(() =>
      model.logits(ids, null, undefined, {
        packing: { segmentIds: segmentIds.subarray(1), positions },
      }),
    ).toThrow(/need length B·T = 9/);
    tf.dispose([ids, mask]);
    model.dispose();
  });
});
