import * as tf from '@tensorflow/tfjs-core';
import './kernelGradients';
import { RMS_NORM_GRAD_KERNEL, RMS_NORM_KERNEL } from '../backend/nativeNames';
import { fusedKernelFor } from './activations';
import { customOp } from './customOp';

// the native backend's one-pass kernels, forward and backward (six and a dozen ops otherwise)
const rmsNormFused = (eps: number) =>
  customOp(([x, weight], save) => {
    save([x!, weight!]);
    return {
      value: tf
        .engine()
        .runKernel(RMS_NORM_KERNEL, { x: x!, weight: weight! }, { eps }) as tf.Tensor,
      gradFunc: (dy, [xs, w]) =>
        tf
          .engine()
          .runKernel(RMS_NORM_GRAD_KERNEL, { x: xs!, weight: w!, dy }, { eps }) as tf.Tensor[],
    };
  });

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
  if (x.size > 0 && fusedKernelFor(RMS_NORM_KERNEL, x, weight))
    return rmsNormFused(eps)(x, weight) as T;
  return tf.tidy(() => {
    const ms = tf.mean(tf.square(x), -1, true);
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), weight) as T;
  });
}
