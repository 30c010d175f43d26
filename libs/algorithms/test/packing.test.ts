// Issue 4's packing contract, checked across libraries: a loss computed on a
// packed batch (data's best-fit-decreasing packing + the model's segment-aware
// forward) equals the loss on the same sequences padded one per row, and so do
// its gradients.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng, useBackend } from '@rxrl/core';
import { packSequences, packValues, padSequences, padValues } from '@rxrl/data';
import { nllLoss } from '@rxrl/loss';
import { CausalLM, presetConfig } from '@rxrl/model';

interface Layout {
  ids: Int32Array;
  batch: number;
  seqLen: number;
}

describe('packed batch vs padded batch', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });

  it('NLL loss and its gradient are equal for packed and unpacked layouts', () => {
    const rng = new Rng(11);
    const vocab = 64;
    const lengths = [7, 3, 9, 4, 5, 2];
    const seqs = lengths.map((n) => Int32Array.from({ length: n }, () => 1 + rng.int(vocab - 1)));
    // next-token targets within each sequence, trained only on the second half
    // (a completion-only mask); the last position of a sequence has no target.
    const offsets = Int32Array.from([
      0,
      ...lengths.map((_, i) => lengths.slice(0, i + 1).reduce((a, b) => a + b, 0)),
    ]);
    const targets = new Int32Array(offsets.at(-1)!);
    const lossMask = new Int32Array(offsets.at(-1)!);
    seqs.forEach((s, i) => {
      for (let t = 0; t < s.length - 1; t++) {
        targets[offsets[i]! + t] = s[t + 1]!;
        lossMask[offsets[i]! + t] = t + 1 >= s.length / 2 ? 1 : 0;
      }
    });

    const model = CausalLM.create(presetConfig('llama', 'tiny', vocab), { seed: 3 });
    const vars = [...model.trainableVariables().values()];
    const totalTokens = lossMask.reduce((a, b) => a + b, 0);

    const lossAndGrads = (
      layout: Layout,
      tgt: Int32Array,
      mask: Int32Array,
      opts: { attention?: Int32Array; packing?: { segmentIds: Int32Array; positions: Int32Array } },
    ) => {
      const { value, grads } = tf.variableGrads(() => {
        const ids = tf.tensor2d(layout.ids, [layout.batch, layout.seqLen], 'int32');
        const lp = model.tokenLogProbs(
          ids,
          opts.attention
            ? tf.tensor2d(opts.attention, [layout.batch, layout.seqLen], 'int32')
            : null,
          tf.tensor2d(tgt, [layout.batch, layout.seqLen], 'int32'),
          { packing: opts.packing },
        );
        const result = nllLoss({
          logprobs: lp,
          tokenMask: tf.tensor2d(Float32Array.from(mask), [layout.batch, layout.seqLen]),
          globalValidToks: totalTokens,
        });
        return result.loss; // variableGrads tidies the metric tensors away
      }, vars);
      const g = Object.values(grads).map((t) => Array.from(t.dataSync()));
      const v = value.dataSync()[0]!;
      tf.dispose([value, ...Object.values(grads)]);
      return { loss: v, grads: g };
    };

    const padded = padSequences(seqs, { padding_side: 'right' });
    const unpacked = lossAndGrads(
      padded,
      padValues({ values: targets, offsets }, padded),
      padValues({ values: lossMask, offsets }, padded),
      {
        attention: padded.mask,
      },
    );
    const packed = packSequences(seqs, { max_seq_len: 12 });
    expect(packed.batch).toBeLessThan(seqs.length); // really packed: 30 tokens in 3 rows of 12
    const packedResult = lossAndGrads(
      packed,
      packValues({ values: targets, offsets }, packed),
      packValues({ values: lossMask, offsets }, packed),
      {
        packing: { segmentIds: packed.segmentIds, positions: packed.positions },
      },
    );

    expect(Math.abs(packedResult.loss - unpacked.loss)).toBeLessThan(
      1e-5 * Math.abs(unpacked.loss),
    );
    let maxRel = 0;
    packedResult.grads.forEach((g, i) => {
      const ref = unpacked.grads[i]!;
      const scale = Math.max(...ref.map(Math.abs), 1e-12);
      g.forEach((x, j) => (maxRel = Math.max(maxRel, Math.abs(x - ref[j]!) / scale)));
    });
    expect(maxRel).toBeLessThan(1e-4);
    model.dispose();
  });
});
