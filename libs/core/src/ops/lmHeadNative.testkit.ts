import * as tf from '@tensorflow/tfjs-core';
import { LM_HEAD_GRAD_KERNEL, LM_HEAD_KERNEL, NATIVE_BACKEND } from '../backend/nativeNames';

/** Unregisters the native LM-head kernels; returns what registers them again. */
function unregisterLmHead(): () => void {
  const saved = [LM_HEAD_KERNEL, LM_HEAD_GRAD_KERNEL].map((name) =>
    tf.getKernel(name, NATIVE_BACKEND),
  );
  for (const k of saved) if (k) tf.unregisterKernel(k.kernelName, NATIVE_BACKEND);
  return () => {
    for (const k of saved) if (k) tf.registerKernel(k);
  };
}

/** Runs `fn` with the native LM-head kernels unregistered (the op-by-op path), then restores them. */
export function withoutNativeLmHead<T>(fn: () => T): T {
  const restore = unregisterLmHead();
  try {
    return fn();
  } finally {
    restore();
  }
}

/** {@link withoutNativeLmHead} for an async `fn`: the kernels come back once it settles. */
export async function withoutNativeLmHeadAsync<T>(fn: () => Promise<T>): Promise<T> {
  const restore = unregisterLmHead();
  try {
    return await fn();
  } finally {
    restore();
  }
}
