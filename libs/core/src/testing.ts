import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { selectBackend } from './backend/selectBackend';
import { NATIVE_MATMUL_ADDON_PATH } from './backend/nativeMatmul';

export type TestBackend = 'cpu' | 'wasm' | 'native' | 'webgpu';

/**
 * Whether the tests run on the native backend too: when its addon is built.
 * `RXRL_REQUIRE_NATIVE=1` (set by .ci/run) turns a missing addon into a
 * failure instead of a silent skip.
 */
export function nativeTestBackendAvailable(): boolean {
  const built = existsSync(NATIVE_MATMUL_ADDON_PATH);
  if (!built && process.env['RXRL_REQUIRE_NATIVE'] === '1') {
    throw new Error(
      `RXRL_REQUIRE_NATIVE=1 but the native addon is not built (${NATIVE_MATMUL_ADDON_PATH}); run \`npm run build:native\``,
    );
  }
  return built;
}

/**
 * The backends op-level suites loop over (`for (const b of TEST_BACKENDS)`):
 * the plain-JS reference, wasm, and native where its addon is built. Each
 * vitest file runs in its own fork, so switching inside a file is safe.
 */
export const TEST_BACKENDS: readonly TestBackend[] = nativeTestBackendAvailable()
  ? ['cpu', 'wasm', 'native']
  : ['cpu', 'wasm'];

/**
 * For tests: switch to `name`. Suites written for the default backend ask for
 * `wasm`; `RXRL_TEST_BACKEND=native` (or `webgpu`) runs those same suites on
 * another backend instead (`npm run test:native`, tools/gpu/test-webgpu.sh),
 * with the same tolerances.
 */
export async function useBackend(name: TestBackend): Promise<void> {
  const override = process.env['RXRL_TEST_BACKEND'] as TestBackend | undefined;
  const target = name === 'wasm' && override ? override : name;
  if (tf.getBackend() === target) return;
  await selectBackend(target);
}
