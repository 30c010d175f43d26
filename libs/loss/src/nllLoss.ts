import * as tf from '@tensorflow/tfjs-core';
import type { LossResult } from './lossResult';
import { expectShape, maskedMean, metric } from './masked';

/** Inputs of {@link nllLoss}; per-token tensors are [B, T] and aligned to the tokens they score. */
export interface NllInputs {
  /** log π(token) of each target token, [B, T] */
  logprobs: tf.Tensor2D;
  /** 1 for tokens that train, [B, T] */
  tokenMask: tf.Tensor2D;
  /** 0 drops a whole sequence, [B]; default all ones */
  sampleMask?: tf.Tensor1D;
  /** valid (masked-in) tokens over the whole global batch; default this batch's count */
  globalValidToks?: number;
}

/**
 * SFT token-level negative log-likelihood (NeMo RL `NLLLoss`):
 * −Σ logprobs·mask / (N + 1e-8), N = valid tokens of the global batch. With a
 * global N, micro-batch losses add up to the full-batch loss.
 * Metrics: `loss`, `num_unmasked_tokens`, `num_valid_samples`.
 */
export function nllLoss(inputs: NllInputs): LossResult {
  const { logprobs, tokenMask } = inputs;
  const [B, T] = logprobs.shape;
  expectShape('nllLoss tokenMask', tokenMask, [B, T]);
  expectShape('nllLoss sampleMask', inputs.sampleMask, [B]);
  return tf.tidy(() => {
    const sampleMask = inputs.sampleMask ?? tf.ones([B]);
    const mask = tf.mul(tokenMask, tf.expandDims(sampleMask, 1));
    const loss = tf.neg(maskedMean(logprobs, mask, inputs.globalValidToks)) as tf.Scalar;
    return {
      loss,
      metrics: {
        loss: metric(() => loss, loss),
        num_unmasked_tokens: metric(() => tf.sum(mask), mask),
        num_valid_samples: metric(() => tf.sum(sampleMask), sampleMask),
      },
    };
  });
}
