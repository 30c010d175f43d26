import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from './backend/selectBackend';

/**
 * For tests: switch to `name` and return it. Each vitest file runs in its own
 * fork, so a suite can loop `for (const b of TEST_BACKENDS)` safely.
 */
export const TEST_BACKENDS = ['cpu', 'wasm'] as const;

export async function useBackend(name: 'cpu' | 'wasm'): Promise<void> {
  if (tf.getBackend() === name) return;
  await selectBackend(name);
}
