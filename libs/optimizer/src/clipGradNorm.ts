import * as tf from '@tensorflow/tfjs-core';
import { RxrlUsageError, sumSquares } from '@rxrl/core';
import type { NamedTensors } from './namedVariables';

/** L2 norm of all tensors together (the norm of the concatenation), as a float32 scalar tensor. */
export function globalNorm(tensors: NamedTensors): tf.Scalar {
  const list = Object.values(tensors);
  // native: no squared copy of each gradient; same float32 sums, added in addN's order
  const native = list.map((t) => sumSquares(t));
  if (list.length > 0 && native.every((x) => x !== null)) {
    let total = 0;
    for (const x of native) total = Math.fround(total + x!);
    return tf.scalar(Math.sqrt(total));
  }
  return tf.tidy(() => {
    const sq = Object.values(tensors).map((t) => tf.sum(tf.square(t)));
    return tf.sqrt(sq.length ? tf.addN(sq) : tf.scalar(0)) as tf.Scalar;
  });
}

/**
 * torch.nn.utils.clip_grad_norm_'s factor min(1, max_norm / (total + 1e-6)),
 * for callers that pass it to `optimizer.step(grads, { gradScale })` rather
 * than copying scaled gradients.
 */
export function clipCoefficient(gradNorm: number, maxNorm: number): number {
  if (!(maxNorm > 0)) throw new RxrlUsageError(`max_grad_norm must be > 0, got ${maxNorm}`);
  return Math.min(1, maxNorm / (gradNorm + 1e-6));
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
  const coef = clipCoefficient(gradNorm, maxNorm);
  const out: Record<string, tf.Tensor> = {};
  for (const [name, g] of Object.entries(grads))
    out[name] = tf.tidy(() => (coef < 1 ? tf.mul(g, coef) : tf.clone(g)));
  return { grads: out, gradNorm };
}
