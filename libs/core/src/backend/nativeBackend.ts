import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import {
  ATTENTION_SOFTMAX_KERNEL,
  LM_HEAD_GRAD_KERNEL,
  LM_HEAD_KERNEL,
  LOGITS_GRAD_KERNEL,
  LOG_SUM_EXP_KERNEL,
  SOFTMAX_GRAD_KERNEL,
  NATIVE_BACKEND,
  RMS_NORM_GRAD_KERNEL,
  RMS_NORM_KERNEL,
  SAMPLE_ROWS_KERNEL,
  SWIGLU_GRAD_KERNEL,
  SWIGLU_KERNEL,
} from './nativeNames';
import { nativeKernels } from './nativeKernels';
import { poolingBackendClass } from './nativeArrayPool';
import { loadNativeAddon } from './nativeMatmul';
import { setNativeInPlaceAddon } from './nativeInPlace';

/**
 * The `native` backend: TensorFlow.js's `cpu` backend — every tensor an
 * ordinary typed array, bounded only by the machine's memory, not by wasm's
 * 32-bit (4 GiB) heap — with its hot kernels replaced by the C addon built
 * from libs/core/native (nativeKernels.ts lists them: OpenBLAS sgemm for
 * every matMul and its gradients, row softmax / log-sum-exp, broadcast
 * arithmetic and strided copies, multi-threaded).
 *
 * It registers under its own name, so the plain `cpu` backend stays the pure
 * JavaScript reference the tests compare against.
 */

export interface NativeBackendStatus {
  /** whether `tf.setBackend('native')` can now succeed */
  available: boolean;
  /** one human sentence: what runs natively, or why the backend is missing */
  reason: string;
}

let registered: NativeBackendStatus | null = null;
let setThreads: ((n: number) => number) | null = null;
let nativeCalls = 0;

/**
 * Register the `native` backend (idempotent). Needs the addon built from
 * libs/core/native; without it the status says how to build it and nothing is
 * registered.
 */
export async function registerNativeBackend(
  options: { threads?: number; addonPath?: string } = {},
): Promise<NativeBackendStatus> {
  if (registered) {
    if (options.threads != null) setThreads!(options.threads);
    return registered;
  }
  const loaded = loadNativeAddon(options.addonPath);
  if ('error' in loaded) return { available: false, reason: loaded.error };
  const addon = loaded.addon;
  if (typeof addon.reduceRows !== 'function') {
    return {
      available: false,
      reason: 'the native addon is from an older build; rebuild it with `npm run build:native`',
    };
  }
  if (options.threads != null) addon.setThreads(options.threads);
  // Loaded here, not at import: importing the cpu backend registers it with tfjs.
  const { MathBackendCPU } = await import('@tensorflow/tfjs-backend-cpu');
  const cpuKernels = new Map(tf.getKernelsForBackend('cpu').map((k) => [k.kernelName, k]));
  const fallback = (name: string, args: Parameters<tf.KernelFunc>[0]) =>
    cpuKernels.get(name)!.kernelFunc(args) as tf.TensorInfo | tf.TensorInfo[];
  const overrides = nativeKernels(addon, fallback, () => nativeCalls++);

  const poolBytes = nativePoolBytes();
  const Backend = poolBytes > 0 ? poolingBackendClass(MathBackendCPU, poolBytes) : MathBackendCPU;
  tf.registerBackend(
    NATIVE_BACKEND,
    () => {
      const backend = new Backend();
      // the cpu backend's one-time banner tells Node users to install tfjs-node; here the
      // hot kernels are native already
      (backend as unknown as { firstUse: boolean }).firstUse = false;
      return backend;
    },
    0,
  );
  for (const k of cpuKernels.values()) {
    tf.registerKernel({
      ...k,
      backendName: NATIVE_BACKEND,
      kernelFunc: overrides[k.kernelName] ?? k.kernelFunc,
    });
  }
  // The ops layer's logSumExpLastAxis runs this on `native` instead of five
  // JavaScript passes (max, sub, exp, sum, log) over [rows, vocab].
  tf.registerKernel({
    kernelName: LOG_SUM_EXP_KERNEL,
    backendName: NATIVE_BACKEND,
    kernelFunc: overrides['LogSumExpRows']!,
  });
  // fused layer ops (the ops layer uses them when registered; an older addon has none)
  if (typeof addon.swigluBackward === 'function' && typeof addon.rmsNormBackward === 'function') {
    for (const [kernelName, impl] of [
      [SWIGLU_KERNEL, 'Swiglu'],
      [SWIGLU_GRAD_KERNEL, 'SwigluGrad'],
      [RMS_NORM_KERNEL, 'RmsNorm'],
      [RMS_NORM_GRAD_KERNEL, 'RmsNormGrad'],
    ] as const)
      tf.registerKernel({ kernelName, backendName: NATIVE_BACKEND, kernelFunc: overrides[impl]! });
  }
  if (typeof addon.attentionSoftmax === 'function' && typeof addon.softmaxGradRows === 'function') {
    for (const [kernelName, impl] of [
      [ATTENTION_SOFTMAX_KERNEL, 'AttentionSoftmax'],
      [SOFTMAX_GRAD_KERNEL, 'SoftmaxGrad'],
    ] as const)
      tf.registerKernel({ kernelName, backendName: NATIVE_BACKEND, kernelFunc: overrides[impl]! });
  }
  if (typeof addon.lmHeadForward === 'function' && typeof addon.lmHeadBackward === 'function') {
    for (const [kernelName, impl] of [
      [LM_HEAD_KERNEL, 'LmHead'],
      [LM_HEAD_GRAD_KERNEL, 'LmHeadGrad'],
    ] as const)
      tf.registerKernel({ kernelName, backendName: NATIVE_BACKEND, kernelFunc: overrides[impl]! });
  }
  if (typeof addon.sampleRows === 'function')
    tf.registerKernel({
      kernelName: SAMPLE_ROWS_KERNEL,
      backendName: NATIVE_BACKEND,
      kernelFunc: overrides['SampleRows']!,
    });
  if (typeof addon.logitsGradRows === 'function') {
    for (const [kernelName, impl] of [[LOGITS_GRAD_KERNEL, 'LogitsGrad']] as const)
      tf.registerKernel({ kernelName, backendName: NATIVE_BACKEND, kernelFunc: overrides[impl]! });
  }
  // d/dx log Σ exp(x) = softmax(x) = exp(x − lse)
  tf.registerGradient({
    kernelName: LOG_SUM_EXP_KERNEL,
    inputsToSave: ['x'],
    outputsToSave: [true],
    gradFunc: (dy, saved) => {
      const [x, lse] = saved as [tf.Tensor, tf.Tensor];
      return { x: () => tf.mul(dy as tf.Tensor, tf.exp(tf.sub(x, lse))) };
    },
  });
  setNativeInPlaceAddon(addon);
  setThreads = (n) => addon.setThreads(n);
  registered = {
    available: true,
    reason: `C kernels (OpenBLAS sgemm on ${addon.getThreads()} thread(s)), tensors in process memory with no 4 GiB ceiling`,
  };
  return registered;
}

/** How many kernel calls the native code has served in this process. */
export function nativeBackendCalls(): number {
  return nativeCalls;
}

/**
 * Bytes of disposed kernel outputs the backend keeps for reuse (nativeArrayPool.ts):
 * `RXRL_NATIVE_POOL_MB` (0 turns reuse off), else 1 GiB or 5% of the machine's memory,
 * whichever is smaller.
 */
export function nativePoolBytes(): number {
  const raw = process.env['RXRL_NATIVE_POOL_MB'];
  if (raw !== undefined && raw !== '') {
    const mb = Number(raw);
    if (!Number.isFinite(mb) || mb < 0)
      throw new Error(`RXRL_NATIVE_POOL_MB must be a number of MiB >= 0, got "${raw}"`);
    return mb * 2 ** 20;
  }
  return Math.min(2 ** 30, Math.floor(0.05 * os.totalmem()));
}
