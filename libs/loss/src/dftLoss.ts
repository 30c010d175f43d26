import * as tf from '@tensorflow/tfjs-core';
import type { LossResult } from './lossResult';
import { expectShape, maskedMean, metric, stopGradient } from './masked';
import type { NllInputs } from './nllLoss';

/**
 * Dynamic fine-tuning (DFT, Wu et al. 2025, https://arxiv.org/abs/2508.05629),
 * TRL's SFT `loss_type: dft`: each token's NLL is weighted by its own
 * probability, not differentiated, −Σ sg(π)·log π·mask / (N + 1e-8), so the
 * gradient per token is −π·∇log π = −∇π. N is the valid tokens of the global
 * batch, as in {@link nllLoss}, so micro-batches add up.
 * Metrics: `loss`, `nll` (the plain token-mean NLL, for comparison with SFT),
 * `num_unmasked_tokens`, `num_valid_samples`.
 */
export function dftLoss(inputs: NllInputs): LossResult {
  const { logprobs, tokenMask } = inputs;
  const [B, T] = logprobs.shape;
  expectShape('dftLoss tokenMask', tokenMask, [B, T]);
  expectShape('dftLoss sampleMask', inputs.sampleMask, [B]);
  return tf.tidy(() => {
    const sampleMask = inputs.sampleMask ?? tf.ones([B]);
    const mask = tf.mul(tokenMask, tf.expandDims(sampleMask, 1));
    const weight = stopGradient(tf.exp(logprobs));
    const loss = tf.neg(
      maskedMean(tf.mul(weight, logprobs), mask, inputs.globalValidToks),
    ) as tf.Scalar;
    const lp = stopGradient(logprobs);
    return {
      loss,
      metrics: {
        loss: metric(() => loss, loss),
        nll: metric(() => tf.neg(maskedMean(lp, mask, inputs.globalValidToks)), lp, mask),
        num_unmasked_tokens: metric(() => tf.sum(mask), mask),
        num_valid_samples: metric(() => tf.sum(sampleMask), sampleMask),
      },
    };
  });
}
