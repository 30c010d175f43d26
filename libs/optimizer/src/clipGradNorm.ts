import * as tf from '@tensorflow/tfjs-core';
import { RxrlUsageError } from '@rxrl/core';
import type { NamedTensors } from './namedVariables';

/** L2 norm of all tensors together (the norm of the concatenation), as a float32 scalar tensor. */
export function globalNorm(tensors: NamedTensors): tf.Scalar {
  return tf.tidy(() => {
    const sq = Object.values(tensors).map((t) => tf.sum(tf.square(t)));
    return tf.sqrt(sq.length ? tf.addN(sq) : tf.scalar(0)) as tf.Scalar;
  });
}

/**
 * Global-norm gradient clipping as torch.nn.utils.clip_grad_norm_: with total =
 * the L2 norm over all gradients, every gradient is scaled by
 * min(1, max_norm / (total + 1e-6)). Returns new tensors (the caller disposes
 * them and still owns `grads`) and `gradNorm`, the norm *before* clipping, which
 * is what NeMo RL logs as `grad_norm`.
 */
export function clipByGlobalNorm(
  grads: NamedTensors,
  maxNorm: number,
): { grads: Record<string, tf.Tensor>; gradNorm: number } {
  if (!(maxNorm > 0)) throw new RxrlUsageError(`max_grad_norm must be > 0, got ${maxNorm}`);
  const norm = globalNorm(grads);
  const gradNorm = norm.dataSync()[0]!;
  norm.dispose();
  const coef = Math.min(1, maxNorm / (gradNorm + 1e-6));
  const out: Record<string, tf.Tensor> = {};
  for (const [name, g] of Object.entries(grads))
    out[name] = tf.tidy(() => (coef < 1 ? tf.mul(g, coef) : tf.clone(g)));
  return { grads: out, gradNorm };
}
