import * as tf from '@tensorflow/tfjs-core';
import { constant, stopGradient } from './masked';

/** Which Schulman (2020) estimator of KL(π ‖ π_ref) to use per token; http://joschu.net/blog/kl-approx.html */
export type KlType = 'k1' | 'k2' | 'k3';
export const KL_TYPES = ['k1', 'k2', 'k3'] as const;

/** k1 = −log r = log π − log π_ref (unbiased, high variance); r = π_ref / π. */
export function klK1(logr: tf.Tensor): tf.Tensor {
  return tf.neg(logr);
}

/** k2 = (log r)² / 2 (biased, low variance). */
export function klK2(logr: tf.Tensor): tf.Tensor {
  return tf.div(tf.square(logr), 2);
}

/** k3 = r − 1 − log r (unbiased, non-negative, low variance). */
export function klK3(logr: tf.Tensor): tf.Tensor {
  return tf.sub(tf.sub(tf.exp(logr), 1), logr);
}

/**
 * Per-token KL estimate between a policy and a reference from their token
 * log-probs, as NeMo RL's `calculate_kl`: logr = ref − logprobs, optionally
 * clamped to ±inputClamp before the estimator; the estimate is multiplied by
 * `weights` when given (where the input clamp is active the weight is detached,
 * so the clamp silences both gradients), and the product clamped to ±outputClamp.
 */
export function calculateKl(
  logprobs: tf.Tensor,
  logprobsReference: tf.Tensor,
  klType: KlType = 'k3',
  inputClamp: number | null = null,
  outputClamp: number | null = null,
  weights?: tf.Tensor,
): tf.Tensor {
  return tf.tidy(() => {
    let logr = tf.sub(logprobsReference, logprobs);
    let w = weights;
    if (inputClamp != null) {
      if (w) {
        const inside = constant((l) => tf.lessEqual(tf.abs(l), inputClamp), logr);
        w = tf.where(inside as tf.Tensor, w, stopGradient(w));
      }
      logr = tf.clipByValue(logr, -inputClamp, inputClamp);
    }
    let kl = klType === 'k1' ? klK1(logr) : klType === 'k2' ? klK2(logr) : klK3(logr);
    if (w) kl = tf.mul(w, kl);
    if (outputClamp != null) kl = tf.clipByValue(kl, -outputClamp, outputClamp);
    return kl;
  });
}
