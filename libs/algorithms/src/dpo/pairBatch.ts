import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from '@rxrl/model';
import {
  lmBatchArrays,
  lmBatchTensors,
  type LmBatchArrays,
  type LmSequence,
} from '../shared/lmBatch';
import type { PreferencePair } from './dpoExamples';

/**
 * Both sides of `pairs` as one right-padded next-token batch: rows 0..m-1 are
 * prompt+chosen, rows m..2m-1 prompt+rejected; the loss mask covers the
 * completion tokens only. One forward pass scores both sides.
 */
export function pairBatchArrays(
  pairs: readonly PreferencePair[],
  padTokenId: number,
): LmBatchArrays {
  const side = (p: PreferencePair, c: Int32Array): LmSequence => {
    const tokens = new Int32Array(p.prompt.length + c.length);
    tokens.set(p.prompt);
    tokens.set(c, p.prompt.length);
    const mask = new Uint8Array(tokens.length);
    mask.fill(1, p.prompt.length);
    return { tokens, mask };
  };
  return lmBatchArrays(
    [...pairs.map((p) => side(p, p.chosen)), ...pairs.map((p) => side(p, p.rejected))],
    padTokenId,
  );
}

/** Per-token log-probs [2m, T] of a pair batch under `model` (the caller disposes). */
export function pairTokenLogps(model: CausalLM, a: LmBatchArrays): tf.Tensor2D {
  return tf.tidy(() => {
    const t = lmBatchTensors(a);
    return model.tokenLogProbs(t.ids, t.attention, t.targets);
  });
}

/** Split a [2m, T] pair-batch tensor into its chosen and rejected halves. */
export function splitPairs<T extends tf.Tensor2D>(
  x: T,
): { chosen: tf.Tensor2D; rejected: tf.Tensor2D } {
  const m = x.shape[0] / 2;
  return { chosen: tf.slice(x, [0, 0], [m, -1]), rejected: tf.slice(x, [m, 0], [m, -1]) };
}
