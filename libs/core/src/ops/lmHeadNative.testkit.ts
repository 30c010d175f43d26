import * as tf from '@tensorflow/tfjs-core';
import { LM_HEAD_GRAD_KERNEL, LM_HEAD_KERNEL, NATIVE_BACKEND } from '../backend/nativeNames';

/** Runs `fn` with the native LM-head kernels unregistered (the op-by-op path), then restores them. */
export function withoutNativeLmHead<T>(fn: () => T): T {
  const saved = [LM_HEAD_KERNEL, LM_HEAD_GRAD_KERNEL].map((name) =>
    tf.getKernel(name, NATIVE_BACKEND),
  );
  for (const k of saved) if (k) tf.unregisterKernel(k.kernelName, NATIVE_BACKEND);
  try {
    return fn();
  } finally {
    for (const k of saved) if (k) tf.registerKernel(k);
  }
}
