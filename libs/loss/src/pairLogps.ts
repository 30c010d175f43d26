import * as tf from '@tensorflow/tfjs-core';
import { expectShape, maskedMean } from './masked';

/**
 * Policy log-probs of preference pairs as the reference-free objectives (ORPO,
 * CPO / SimPO) read them: per sequence, [B] (summed over the response) with
 * `chosenLengths` / `rejectedLengths`, or per token, [B, T] with `chosenMask` /
 * `rejectedMask`. Row i of every tensor is pair i.
 */
export interface PairLogpsInputs {
  policyChosenLogps: tf.Tensor;
  policyRejectedLogps: tf.Tensor;
  /** [B, T] masks of the response tokens, required with per-token inputs */
  chosenMask?: tf.Tensor2D;
  rejectedMask?: tf.Tensor2D;
  /** response lengths [B], required with per-sequence inputs */
  chosenLengths?: tf.Tensor1D;
  rejectedLengths?: tf.Tensor1D;
  /** 0 drops a pair, [B]; default all ones */
  sampleMask?: tf.Tensor1D;
  /** valid pairs over the whole global batch; default this batch's count */
  globalValidPairs?: number;
  /** valid chosen tokens over the global batch (the NLL's denominator); default this batch's count */
  globalChosenToks?: number;
}

/** One side of the pairs: Σ log π, the token count (≥ 1) and their ratio, each [B]. */
export interface SideLogps {
  sum: tf.Tensor1D;
  len: tf.Tensor1D;
  avg: tf.Tensor1D;
}

/** Σ log π, length and mean log π per response, from per-sequence or per-token inputs. */
export function sideLogps(
  loss: string,
  name: string,
  lp: tf.Tensor,
  mask: tf.Tensor2D | undefined,
  lengths: tf.Tensor1D | undefined,
  B: number,
): SideLogps {
  let sum: tf.Tensor1D;
  let len: tf.Tensor1D;
  if (lp.rank === 1) {
    expectShape(`${loss} ${name}`, lp, [B]);
    if (!lengths)
      throw new Error(
        `${loss}: ${name} is per sequence [B], so its lengths (chosenLengths / rejectedLengths) are required`,
      );
    expectShape(`${loss} ${name} lengths`, lengths, [B]);
    sum = lp as tf.Tensor1D;
    len = tf.maximum(lengths, 1) as tf.Tensor1D;
  } else {
    if (!mask)
      throw new Error(
        `${loss}: ${name} is per token [B, T], so its mask (chosenMask / rejectedMask) is required`,
      );
    expectShape(`${loss} ${name}`, lp, mask.shape);
    sum = tf.sum(tf.mul(lp, mask), -1) as tf.Tensor1D;
    len = tf.maximum(tf.sum(mask, -1), 1) as tf.Tensor1D;
  }
  return { sum, len, avg: tf.div(sum, len) as tf.Tensor1D };
}

/**
 * Token-mean NLL of the chosen responses over the global batch (TRL's
 * cross-entropy on the chosen half): Σ −log π · mask / (N_chosen_tokens + 1e-8).
 */
export function chosenNll(
  chosen: SideLogps,
  sampleMask: tf.Tensor1D,
  globalChosenToks: number | undefined,
): tf.Scalar {
  const den = globalChosenToks ?? tf.sum(tf.mul(chosen.len, sampleMask));
  return tf.neg(maskedMean(chosen.sum, sampleMask, den)) as tf.Scalar;
}
