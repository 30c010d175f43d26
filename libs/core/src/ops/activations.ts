import * as tf from '@tensorflow/tfjs-core';
import './kernelGradients';
import { NATIVE_BACKEND, SWIGLU_GRAD_KERNEL, SWIGLU_KERNEL } from '../backend/nativeNames';
import { customOp } from './customOp';

/** SiLU / swish: `x · sigmoid(x)`. */
export function silu<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)) as T);
}

/** Whether the native backend's fused kernel `name` can run on these float32 inputs now. */
export function fusedKernelFor(name: string, ...xs: tf.Tensor[]): boolean {
  return (
    tf.getBackend() === NATIVE_BACKEND &&
    xs.every((x) => x.dtype === 'float32') &&
    tf.getKernel(name, NATIVE_BACKEND) !== undefined
  );
}

// one pass forward and one backward instead of three kernels and nine
const swigluFused = customOp(([gate, up], save) => {
  save([gate!, up!]);
  return {
    value: tf.engine().runKernel(SWIGLU_KERNEL, { gate: gate!, up: up! }) as tf.Tensor,
    gradFunc: (dy, [g, u]) =>
      tf.engine().runKernel(SWIGLU_GRAD_KERNEL, { gate: g!, up: u!, dy }) as tf.Tensor[],
  };
});

/** SwiGLU gate of Llama-style MLPs: `silu(gate) · up` (fused on the native backend). */
export function swiglu<T extends tf.Tensor>(gate: T, up: T): T {
  if (gate.shape.join() === up.shape.join() && fusedKernelFor(SWIGLU_KERNEL, gate, up))
    return swigluFused(gate, up) as T;
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
