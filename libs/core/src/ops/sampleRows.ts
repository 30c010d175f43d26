import * as tf from '@tensorflow/tfjs-core';
import { SAMPLE_ROWS_KERNEL } from '../backend/nativeNames';
import { fusedKernelFor } from './activations';

/**
 * One token per row of `[B, V]` logits by inverting the CDF of `softmax(logits / T)`
 * (entries whose unnormalised weight `exp(z − max)` is below `minP` dropped, as min-p
 * does) at `uniforms[b]` ∈ [0, 1), with the token's log-prob `log softmax(logits / T)`.
 * One native kernel where the backend has it (`native`); null elsewhere, and the caller
 * runs the op-by-op version, which gives the same tokens and log-probs there.
 */
export function sampleRowsNative(
  logits: tf.Tensor2D,
  temperature: number,
  minP: number,
  uniforms: Float32Array,
): { tokens: tf.Tensor1D; logprobs: tf.Tensor1D } | null {
  if (!fusedKernelFor(SAMPLE_ROWS_KERNEL, logits) || uniforms.length !== logits.shape[0])
    return null;
  const u = tf.tensor1d(uniforms, 'float32');
  try {
    const [tokens, logprobs] = tf
      .engine()
      .runKernel(
        SAMPLE_ROWS_KERNEL,
        { logits, uniforms: u },
        { temperature, minP },
      ) as tf.Tensor1D[];
    return { tokens: tokens!, logprobs: logprobs! };
  } finally {
    u.dispose();
  }
}
