import * as tf from '@tensorflow/tfjs-core';
import './kernelGradients';

/** Layer norm over the last axis: `(x − mean) / sqrt(var + eps) · gamma + beta` (biased variance, as PyTorch). */
export function layerNorm<T extends tf.Tensor>(
  x: T,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  eps: number,
): T {
  const d = x.shape[x.rank - 1];
  if (gamma.shape[0] !== d || beta.shape[0] !== d || gamma.rank !== 1 || beta.rank !== 1) {
    throw new Error(
      `layerNorm: expected gamma and beta [${d}] for x ${JSON.stringify(x.shape)}, got ${JSON.stringify(gamma.shape)} and ${JSON.stringify(beta.shape)}`,
    );
  }
  return tf.tidy(() => {
    const mean = tf.mean(x, -1, true);
    const centred = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centred), -1, true);
    return tf.add(tf.mul(tf.mul(centred, tf.rsqrt(tf.add(variance, eps))), gamma), beta) as T;
  });
}
