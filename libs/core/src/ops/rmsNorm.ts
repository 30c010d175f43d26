import * as tf from '@tensorflow/tfjs-core';
import './kernelGradients';

/**
 * RMS norm over the last axis as in HF Llama / Qwen: `x · rsqrt(mean(x²) + eps) · weight`.
 * Qwen3's q/k norm is the same op applied on head_dim.
 */
export function rmsNorm<T extends tf.Tensor>(x: T, weight: tf.Tensor1D, eps: number): T {
  const d = x.shape[x.rank - 1];
  if (weight.rank !== 1 || weight.shape[0] !== d) {
    throw new Error(
      `rmsNorm: expected weight [${d}] for x ${JSON.stringify(x.shape)}, got ${JSON.stringify(weight.shape)}`,
    );
  }
  return tf.tidy(() => {
    const ms = tf.mean(tf.square(x), -1, true);
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), weight) as T;
  });
}
