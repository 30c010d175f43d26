import * as tf from '@tensorflow/tfjs-core';
import { RxrlConfigError } from '../base/errors';
import { enableNativeMatmulFromEnv, type NativeMatmulStatus } from './nativeMatmul';
import { NATIVE_BACKEND } from './nativeNames';
import {
  adapterLine,
  probeWebgpu,
  probeWebgpuIsolated,
  registerWebgpuBackend,
  type WebgpuAdapter,
  type WebgpuStatus,
} from './webgpuBackend';

/** Backends rxrl can run on, plus `auto`. */
export const BACKEND_NAMES = ['auto', 'tensorflow', 'webgpu', 'native', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface BackendChoice {
  /** what tfjs reports after selection */
  backend: 'tensorflow' | 'webgpu' | 'native' | 'wasm' | 'cpu';
  /** for `tensorflow`: which package provided it */
  provider?: '@tensorflow/tfjs-node-gpu' | '@tensorflow/tfjs-node';
  /** one human sentence: why this backend */
  reason: string;
  /** on `webgpu`: the adapter Dawn runs it on */
  adapter?: WebgpuAdapter;
  /** on `wasm`: whether matMuls run on the optional native OpenBLAS kernel, and why (not) */
  nativeMatmul?: NativeMatmulStatus;
}

export const TENSORFLOW_INSTALL_HINT =
  'Install a native TensorFlow backend with `npm install @tensorflow/tfjs-node@4.22.0` (CPU), or ' +
  '`npm install @tensorflow/tfjs-node-gpu@4.22.0` for NVIDIA GPUs — tfjs-node-gpu 4.22 is built ' +
  'against CUDA 11.8 and cuDNN 8.6 (Linux x86_64 only). Both download libtensorflow during install, ' +
  'so the machine must reach storage.googleapis.com; otherwise use --backend wasm.';

/** What `auto` may weigh besides which backends are installed. */
export interface BackendHint {
  /** parameters of the model the run loads, when known before loading */
  parameters?: number;
}

/**
 * `auto` runs models below this many parameters on wasm (with the native
 * matMul when built) even where the native backend exists: their steps are
 * many small kernels, where wasm's SIMD kernels beat the cpu backend's per-op
 * cost (measured on 2 cores, one thread each, CPU time of a training step:
 * tiny preset 308 ms wasm vs 532 ms native, small 843 vs 1421). Above it the
 * matrix products dominate and full fine-tuning no longer fits wasm's heap
 * (16 bytes per parameter for weights, gradients and AdamW state).
 */
export const AUTO_NATIVE_MIN_PARAMETERS = 100e6;

function formatParameters(n: number): string {
  return n >= 1e9
    ? `${(n / 1e9).toFixed(1)}B`
    : n >= 1e6
      ? `${(n / 1e6).toFixed(n >= 1e8 ? 0 : 1)}M`
      : `${(n / 1e3).toFixed(0)}k`;
}

let current: BackendChoice | null = null;

async function tryImport(name: string): Promise<boolean> {
  try {
    // A variable specifier keeps bundlers and tsc from resolving the optional package.
    const spec = name;
    await import(/* @vite-ignore */ spec);
    return true;
  } catch {
    return false;
  }
}

async function useWasm(): Promise<boolean> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    return await tf.setBackend('wasm');
  } catch {
    return false;
  }
}

/** Register and switch to the native backend; the error says why it is unavailable. */
async function useNative(): Promise<{ ok: true; reason: string } | { ok: false; reason: string }> {
  await import('@tensorflow/tfjs-backend-cpu');
  const { registerNativeBackend } = await import('./nativeBackend');
  const rawThreads = process.env['RXRL_NATIVE_MATMUL_THREADS'];
  const threads = rawThreads ? Number(rawThreads) : undefined;
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) {
    throw new RxrlConfigError(
      `RXRL_NATIVE_MATMUL_THREADS: expected a positive integer, got '${rawThreads}'`,
    );
  }
  const status = await registerNativeBackend(threads !== undefined ? { threads } : {});
  if (!status.available) return { ok: false, reason: status.reason };
  if (!(await tf.setBackend(NATIVE_BACKEND)))
    return { ok: false, reason: 'the native backend failed to initialise' };
  return { ok: true, reason: status.reason };
}

async function useCpu(): Promise<void> {
  await import('@tensorflow/tfjs-backend-cpu');
  if (!(await tf.setBackend('cpu'))) throw new Error('tfjs cpu backend failed to initialise');
}

/**
 * Resolve the requested backend name: the explicit argument wins, then
 * `RXRL_BACKEND`, then `auto`. Unknown names are configuration errors.
 */
export function requestedBackend(explicit?: string | null): BackendName {
  const raw = explicit ?? process.env['RXRL_BACKEND'] ?? 'auto';
  const name = raw.trim().toLowerCase();
  if (!(BACKEND_NAMES as readonly string[]).includes(name)) {
    const source = explicit != null ? '--backend' : 'RXRL_BACKEND';
    throw new RxrlConfigError(
      `${source}: unknown backend '${raw}'; expected one of ${BACKEND_NAMES.join(', ')}`,
    );
  }
  return name as BackendName;
}

/**
 * Select and initialise the tensor backend.
 *
 * `auto` prefers a GPU: tfjs-node-gpu when it loads, else `webgpu` when Dawn
 * finds a hardware adapter (a CPU implementation such as lavapipe is only
 * used when asked for by name), else tfjs-node when installed, else `native`
 * (the cpu backend with OpenBLAS kernels, no 4 GiB ceiling) when its addon is
 * built — except for models the hint says are below
 * AUTO_NATIVE_MIN_PARAMETERS, which run faster on wasm — else `wasm`, else
 * `cpu`. Asking for `tensorflow` or `webgpu` explicitly when it cannot run is
 * an error that says why in one line.
 */
export async function selectBackend(
  requested?: string | null,
  hint: BackendHint = {},
): Promise<BackendChoice> {
  const name = requestedBackend(requested);
  const via =
    requested != null ? '--backend' : process.env['RXRL_BACKEND'] ? 'RXRL_BACKEND' : 'auto';
  let choice: BackendChoice | null = null;

  let webgpuSkipped: string | null = null;
  if (name === 'tensorflow' || name === 'auto') {
    for (const provider of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const) {
      if (provider === '@tensorflow/tfjs-node' && name === 'auto') {
        // a GPU through WebGPU beats TensorFlow's CPU build
        const gpu = await useWebgpu(false);
        if (gpu.available) {
          choice = webgpuChoice(gpu, 'auto: ');
          break;
        }
        webgpuSkipped = gpu.reason;
      }
      if ((await tryImport(provider)) && (await tf.setBackend('tensorflow'))) {
        choice = {
          backend: 'tensorflow',
          provider,
          reason: `${via === 'auto' ? 'auto: ' : `requested by ${via}: `}${provider} is installed`,
        };
        break;
      }
    }
    if (!choice && name === 'tensorflow') {
      throw new RxrlConfigError(
        `backend 'tensorflow' was requested (${via}) but neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node could be loaded. ${TENSORFLOW_INSTALL_HINT}`,
      );
    }
  }
  if (name === 'webgpu') {
    const gpu = await useWebgpu(true);
    if (!gpu.available)
      throw new RxrlConfigError(
        `backend 'webgpu' was requested (${via}) but cannot run: ${gpu.reason}`,
      );
    choice = webgpuChoice(gpu, `requested by ${via}: `);
  }
  const small =
    name === 'auto' &&
    hint.parameters !== undefined &&
    hint.parameters < AUTO_NATIVE_MIN_PARAMETERS;
  if (!choice && (name === 'native' || (name === 'auto' && !small))) {
    const native = await useNative();
    if (native.ok) {
      choice = {
        backend: 'native',
        reason: `${via === 'auto' ? 'auto: no @tensorflow/tfjs-node(-gpu) installed; the native addon is built' : `requested by ${via}`}: ${native.reason}`,
      };
    } else if (name === 'native') {
      throw new RxrlConfigError(
        `backend 'native' was requested (${via}) but is not available: ${native.reason}`,
      );
    }
  }
  if (!choice && (name === 'wasm' || name === 'auto')) {
    if (await useWasm()) {
      choice = {
        backend: 'wasm',
        reason:
          name !== 'auto'
            ? `requested by ${via}`
            : small
              ? `auto: a ${formatParameters(hint.parameters!)}-parameter model steps faster on wasm (XNNPACK, SIMD) than on native; native takes models from ${formatParameters(AUTO_NATIVE_MIN_PARAMETERS)}`
              : 'auto: no @tensorflow/tfjs-node(-gpu) installed and the native addon is not built (`npm run build:native`), so wasm (XNNPACK, SIMD, 4 GiB heap)',
      };
    } else if (name === 'wasm') {
      throw new RxrlConfigError(`backend 'wasm' was requested (${via}) but failed to initialise`);
    }
  }
  if (!choice) {
    await useCpu();
    choice = {
      backend: 'cpu',
      reason:
        name === 'cpu'
          ? `requested by ${via}`
          : 'auto: wasm failed to initialise, falling back to plain JS',
    };
  }
  if (webgpuSkipped && choice.backend !== 'tensorflow')
    choice.reason += `; no GPU through webgpu: ${webgpuSkipped}`;
  await tf.ready();
  // The native kernel (libs/core/native) replaces wasm's matMul when it was built;
  // RXRL_NATIVE_MATMUL=0 keeps XNNPACK.
  if (choice.backend === 'wasm') choice.nativeMatmul = enableNativeMatmulFromEnv();
  current = choice;
  return choice;
}

/**
 * Bring up webgpu. Under `auto` (`allowSoftware` false) a CPU implementation
 * of WebGPU is refused before TensorFlow.js is touched: it is far slower than
 * the native and wasm backends.
 */
async function useWebgpu(allowSoftware: boolean): Promise<WebgpuStatus> {
  const probe = allowSoftware ? await probeWebgpu() : probeWebgpuIsolated();
  if (probe.available && probe.adapter.software && !allowSoftware)
    return {
      available: false,
      reason: `the only adapter is ${adapterLine(probe.adapter)}, used only with --backend webgpu`,
    };
  if (!probe.available) return probe;
  return registerWebgpuBackend();
}

function webgpuChoice(gpu: WebgpuStatus & { available: true }, prefix: string): BackendChoice {
  return { backend: 'webgpu', adapter: gpu.adapter, reason: `${prefix}${gpu.reason}` };
}

/** The line every run prints: which backend it got and why. */
export function describeBackend(choice: BackendChoice): string {
  const what = choice.provider ? `${choice.backend} (${choice.provider})` : choice.backend;
  const native = choice.nativeMatmul ? `; ${choice.nativeMatmul.reason}` : '';
  return `rxrl: backend ${what} — ${choice.reason}${native}`;
}

/** The backend chosen by the last `selectBackend`, or null before one ran. */
export function currentBackend(): BackendChoice | null {
  return current;
}
