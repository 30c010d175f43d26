import * as tf from '@tensorflow/tfjs-core';
import './kernelGradients';

/** SiLU / swish: `x · sigmoid(x)`. */
export function silu<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)) as T);
}

/** SwiGLU gate of Llama-style MLPs: `silu(gate) · up`. */
export function swiglu<T extends tf.Tensor>(gate: T, up: T): T {
  return tf.tidy(() => tf.mul(silu(gate), up) as T);
}

const GELU_C = Math.sqrt(2 / Math.PI);

/** GELU with the tanh approximation (GPT-2 "gelu_new"): `0.5x(1 + tanh(√(2/π)(x + 0.044715x³)))`. */
export function geluTanh<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => {
    const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.square(x), x), 0.044715)), GELU_C);
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1)) as T;
  });
}
