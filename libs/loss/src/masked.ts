import * as tf from '@tensorflow/tfjs-core';
// @rxrl/core registers the kernel gradients backprop needs (tfjs-core's node build registers none)
import '@rxrl/core';

/** NeMo RL adds this to every normaliser so an empty batch gives 0, not NaN. */
export const NORM_EPS = 1e-8;

/**
 * Run `fn` where the gradient tape cannot see it and return its value as a
 * constant: the gradient to every input is zero. tfjs-core has no
 * `stopGradient` and no gradients for comparisons, top-k or isFinite; doing
 * that work inside a custom-gradient forward (which the tape does not record)
 * keeps masks, sort permutations and metrics out of backprop.
 */
export function constant(fn: (...xs: tf.Tensor[]) => tf.Tensor, ...inputs: tf.Tensor[]): tf.Tensor {
  if (inputs.length === 0) return fn();
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const xs = args.slice(0, -1) as tf.Tensor[];
    // shapes, not tensors: the inputs may be intermediates a tidy has disposed by backprop time
    const shapes = xs.map((x) => x.shape);
    const value = tf.tidy(() => {
      const v = fn(...xs);
      // customGrad must not hand back one of its own inputs
      return xs.includes(v) ? tf.clone(v) : v;
    });
    return { value, gradFunc: () => shapes.map((s) => tf.zeros(s)) };
  });
  return op(...inputs) as tf.Tensor;
}

/** `x` as a constant (PyTorch's `.detach()`). */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return constant((v) => v, x) as T;
}

/** Replace NaN and ±Inf by 0 (torch.nan_to_num(x, 0, 0, 0)); the result is a constant. */
export function nanToZero<T extends tf.Tensor>(x: T): T {
  return constant((v) => tf.where(tf.isFinite(v), v, tf.zerosLike(v)), x) as T;
}

/**
 * Replace NaN and ±Inf by 0 keeping the gradient where x is finite
 * (torch.nan_to_num(x, 0, 0, 0) on a tensor that requires grad).
 */
export function finiteOrZero<T extends tf.Tensor>(x: T): T {
  const finite = constant((v) => tf.isFinite(v), x);
  return tf.where(finite as tf.Tensor, x, tf.zerosLike(x)) as T;
}

/**
 * NeMo RL's `masked_mean`: sum(values * mask) / (normaliser + 1e-8), where the
 * normaliser is the mask's own sum unless a global count is given. With
 * `axis` it reduces that axis only (always with the local count).
 */
export function maskedMean(
  values: tf.Tensor,
  mask: tf.Tensor,
  normaliser?: number | tf.Tensor,
): tf.Scalar {
  const num = tf.sum(tf.mul(values, mask));
  const den = normaliser ?? tf.sum(mask);
  return tf.div(num, tf.add(den, NORM_EPS)) as tf.Scalar;
}

/** Row-wise masked mean over the last axis of [B, T]: sum_t(v * m) / (sum_t(m) + 1e-8). */
export function rowMaskedMean(values: tf.Tensor, mask: tf.Tensor): tf.Tensor1D {
  return tf.div(
    tf.sum(tf.mul(values, mask), -1),
    tf.add(tf.sum(mask, -1), NORM_EPS),
  ) as tf.Tensor1D;
}

/** [B] -> [B, 1] so it broadcasts over tokens. */
export function perRow(x: tf.Tensor): tf.Tensor {
  return x.rank === 1 ? tf.expandDims(x, 1) : x;
}

/** A detached scalar metric from a computation (no tape, no gradient). */
export function metric(fn: () => tf.Tensor, ...inputs: tf.Tensor[]): tf.Scalar {
  return constant(() => tf.reshape(fn(), []), ...inputs) as tf.Scalar;
}

/** Throw a clear error when a tensor's shape is not the expected one. */
export function expectShape(name: string, t: tf.Tensor | undefined, shape: number[]): void {
  if (t === undefined) return;
  if (t.rank !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${name}: expected shape [${shape.join(', ')}], got [${t.shape.join(', ')}]`);
  }
}

/**
 * log σ(x) = −softplus(−x) from taped ops. tf.logSigmoid's custom gradient
 * closes over its input, which breaks when a tidy disposed that intermediate
 * before backprop.
 */
export function logSigmoid(x: tf.Tensor): tf.Tensor {
  return tf.neg(tf.softplus(tf.neg(x)));
}
