import * as tf from '@tensorflow/tfjs-core';
import { map } from 'rxjs';
import { z } from 'zod';
import { addColumns, COLUMNS, defineStage, listVector, requireService } from '@rxrl/core/base';
import type { CausalLM } from '@rxrl/model';
import type { Tokenizer } from '@rxrl/core/base';
import { microBatches } from '../shared/microBatches';
import { padTokenOf } from '../shared/trainingServices';
import { pairBatchArrays, pairsOf, pairTokenLogps } from './pairBatch';

/** π_ref's per-token log-probs of prompt + chosen (List<Float32>, position t scores token t + 1). */
export const REFERENCE_CHOSEN_LOGPS = 'reference_chosen_logps';
/** π_ref's per-token log-probs of prompt + rejected. */
export const REFERENCE_REJECTED_LOGPS = 'reference_rejected_logps';

/** Options of `policy.reference_logprobs`. */
export const referenceLogprobsOptionsSchema = z.strictObject({
  /** pairs per forward pass (a recipe's `policy.train_micro_batch_size`: the loss node's, so each pass sees the same padding) */
  micro_batch_size: z.int().positive().default(8),
});

/**
 * `policy.reference_logprobs`: the frozen reference policy's (`reference` service)
 * per-token log-probs of both sides of each pair, without gradients, in forward
 * passes of `micro_batch_size` pairs; adds `reference_chosen_logps` and
 * `reference_rejected_logps` (row i: the unpadded positions of prompt + completion
 * of pair i) for the loss node after it.
 */
export const referenceLogprobsStage = defineStage({
  name: 'policy.reference_logprobs',
  description: "the frozen reference policy's per-token log-probs of both sides of each pair",
  schema: referenceLogprobsOptionsSchema,
  requires: [COLUMNS.promptTokens, COLUMNS.chosenTokens, COLUMNS.rejectedTokens],
  produces: [REFERENCE_CHOSEN_LOGPS, REFERENCE_REJECTED_LOGPS],
  create(options, context) {
    const stage = 'policy.reference_logprobs';
    const reference = requireService<CausalLM | null>(context, 'reference', stage);
    const pad = padTokenOf(requireService<Tokenizer>(context, 'tokenizer', stage));
    if (reference === null)
      throw new Error(`stage ${stage} needs a reference policy; the run has none (reference-free)`);
    return map((batch) => {
      const pairs = pairsOf(batch);
      const n = pairs.length;
      const lengths = (side: 'chosen' | 'rejected') =>
        pairs.map((p) => Math.max(0, p.prompt.length + p[side].length - 1));
      const sides = { chosen: lengths('chosen'), rejected: lengths('rejected') };
      const offsets = (ls: number[]) => {
        const o = new Int32Array(n + 1);
        ls.forEach((l, i) => (o[i + 1] = o[i]! + l));
        return o;
      };
      const chosenOffsets = offsets(sides.chosen);
      const rejectedOffsets = offsets(sides.rejected);
      const chosen = new Float32Array(chosenOffsets[n]!);
      const rejected = new Float32Array(rejectedOffsets[n]!);
      let from = 0;
      for (const mb of microBatches(pairs, options.micro_batch_size)) {
        const a = pairBatchArrays(mb, pad);
        const lp = pairTokenLogps(reference, a);
        const values = lp.dataSync() as Float32Array;
        tf.dispose(lp);
        const m = mb.length;
        for (let r = 0; r < m; r++) {
          const i = from + r;
          chosen.set(
            values.subarray(r * a.seqLen, r * a.seqLen + sides.chosen[i]!),
            chosenOffsets[i]!,
          );
          rejected.set(
            values.subarray((m + r) * a.seqLen, (m + r) * a.seqLen + sides.rejected[i]!),
            rejectedOffsets[i]!,
          );
        }
        from += m;
      }
      return addColumns(batch, {
        [REFERENCE_CHOSEN_LOGPS]: listVector(chosen, chosenOffsets),
        [REFERENCE_REJECTED_LOGPS]: listVector(rejected, rejectedOffsets),
      });
    });
  },
});
