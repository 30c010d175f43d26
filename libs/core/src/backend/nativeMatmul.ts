import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { RxrlConfigError } from '../base/errors';

/** The optional N-API addon built from libs/core/native (OpenBLAS sgemm, row-wise softmax). */
export interface NativeMatmulAddon {
  /**
   * out[M,N] = op(a) @ op(b) on row-major float32 data. With `aBatch`/`bBatch`
   * (equal-length Int32Arrays) it runs one product per entry, reading block
   * `aBatch[p]` of `a` and `bBatch[p]` of `b` into block `p` of `out`.
   */
  sgemm(
    M: number,
    N: number,
    K: number,
    a: Float32Array,
    b: Float32Array,
    out: Float32Array,
    transA?: boolean,
    transB?: boolean,
    aBatch?: Int32Array,
    bBatch?: Int32Array,
  ): void;
  /** `out = softmax(x)` (or log-softmax with `log`) over each of `rows` rows of `cols`. */
  softmaxRows(x: Float32Array, out: Float32Array, rows: number, cols: number, log: boolean): void;
  /** `out[r] = log Σ_j exp(x[r, j])` for each of `rows` rows of `cols`. */
  logSumExpRows(x: Float32Array, out: Float32Array, rows: number, cols: number): void;
  /**
   * `out = a op b` over the dense `shape` (op 0 add, 1 sub, 2 mul, 3 div),
   * reading a and b at their offsets through per-dimension strides (0 broadcasts).
   */
  binary(
    op: number,
    shape: Int32Array,
    out: Float32Array,
    a: Float32Array,
    aOffset: number,
    aStrides: Int32Array,
    b: Float32Array,
    bOffset: number,
    bStrides: Int32Array,
  ): void;
  /** Strided copy over `shape` between two arrays of the same 4-byte type. */
  copy<T extends Float32Array | Int32Array>(
    shape: Int32Array,
    src: T,
    srcOffset: number,
    srcStrides: Int32Array,
    dst: T,
    dstOffset: number,
    dstStrides: Int32Array,
  ): void;
  /** `out[i] = f(x[i])` for the function with code `op` (see nativeKernels.ts). */
  unary(op: number, x: Float32Array, out: Float32Array): void;
  /** `out[r]` = sum, mean, max or min (op 0–3) of row r of a [rows, cols] matrix. */
  reduceRows(op: number, x: Float32Array, out: Float32Array, rows: number, cols: number): void;
  /** One Adam/AdamW step over p, m, v in place (see native/src/optim.c); absent in addons built before it. */
  adamUpdate?(
    p: Float32Array,
    g: Float32Array,
    m: Float32Array,
    v: Float32Array,
    constants: Float32Array,
    flags: number,
  ): void;
  /** `out += op(a) @ op(b)` in place (cblas beta 1); absent in addons built before it. */
  sgemmAccumulate?(
    M: number,
    N: number,
    K: number,
    a: Float32Array,
    b: Float32Array,
    out: Float32Array,
    transA?: boolean,
    transB?: boolean,
  ): void;
  /**
   * `values`/`indices` `[rows, k]`: each row's k largest entries, value
   * descending, ties by lower index; absent in addons built before it.
   */
  topkRows?(
    x: Float32Array,
    rows: number,
    cols: number,
    k: number,
    values: Float32Array,
    indices: Int32Array,
  ): void;
  /** Fused SwiGLU and RMS norm, forward and backward (native/src/fused.c); absent in older builds. */
  swigluForward?(gate: Float32Array, up: Float32Array, out: Float32Array): void;
  swigluBackward?(
    gate: Float32Array,
    up: Float32Array,
    dy: Float32Array,
    dgate: Float32Array,
    dup: Float32Array,
  ): void;
  rmsNormForward?(x: Float32Array, weight: Float32Array, eps: number, out: Float32Array): void;
  rmsNormBackward?(
    x: Float32Array,
    weight: Float32Array,
    eps: number,
    dy: Float32Array,
    dx: Float32Array,
    dweight: Float32Array,
  ): void;
  /** Attention's fused scale + mask + softmax and softmax's gradient (native/src/rowops.c); absent in older builds. */
  attentionSoftmax?(
    scores: Float32Array,
    bias: Float32Array | null,
    out: Float32Array,
    batch: number,
    heads: number,
    t: number,
    s: number,
    biasBatch: number,
    scale: number,
  ): void;
  softmaxGradRows?(
    p: Float32Array,
    dp: Float32Array,
    out: Float32Array,
    rows: number,
    cols: number,
    scale: number,
  ): void;
  /** (one-hot − exp(z − lse))·scale per row (native/src/rowops.c); absent in older builds. */
  logitsGradRows?(
    z: Float32Array,
    lse: Float32Array,
    targets: Int32Array,
    scale: Float32Array,
    out: Float32Array,
    rows: number,
    cols: number,
  ): void;
  /**
   * The LM head's token log-probs over chunks of rows, the logits in a per-thread
   * scratch buffer (native/src/lmhead.c): fills `lse` and `value` `[n]`; absent in older builds.
   * Returns a ticket, non-zero when the logits of all rows stay in the scratch for the backward.
   */
  lmHeadForward?(
    hidden: Float32Array,
    head: Float32Array,
    targets: Int32Array,
    n: number,
    d: number,
    v: number,
    vocabMajor: boolean,
    invT: number,
    chunkRows: number,
    lse: Float32Array,
    value: Float32Array,
  ): number;
  /**
   * Its backward: fills `dHidden` `[n, d]` and, unless null, `dHead` (the head's layout);
   * reuses the forward's logits when `ticket` is the one that forward returned and no
   * other call has used the scratch since, else recomputes them.
   */
  lmHeadBackward?(
    hidden: Float32Array,
    head: Float32Array,
    targets: Int32Array,
    n: number,
    d: number,
    v: number,
    vocabMajor: boolean,
    invT: number,
    chunkRows: number,
    lse: Float32Array,
    dy: Float32Array,
    dHidden: Float32Array,
    dHead: Float32Array | null,
    ticket: number,
  ): void;
  /** [LM-head backward passes that reused their forward's logits, that recomputed them] so far. */
  lmHeadStats?(): [number, number];
  /** One token per row by inverting softmax(logits / T)'s CDF at `uniforms` (native/src/sample.c). */
  sampleRows?(
    logits: Float32Array,
    rows: number,
    cols: number,
    temperature: number,
    minP: number,
    uniforms: Float32Array,
    tokens: Int32Array,
    logprobs: Float32Array,
  ): void;
  /** Σ x² (squares rounded to float32, summed in float64 in index order), as float32. */
  sumSquares?(x: Float32Array): number;
  /** Set OpenBLAS worker threads; returns the count in effect. */
  setThreads(n: number): number;
  getThreads(): number;
  /** OpenBLAS's build configuration and the core type it runs kernels for, e.g. "OpenBLAS 0.3.21 … ; core Haswell". */
  blasConfig(): string;
}

export interface NativeMatmulStatus {
  /** whether BatchMatMul on the wasm backend now runs the native kernel */
  enabled: boolean;
  /** one human sentence: why (or how to get it) */
  reason: string;
}

export const NATIVE_MATMUL_BUILD_HINT =
  'build it with `apt-get install libopenblas-dev && npm run build:native -w @rxrl/core`';

/** Where node-gyp leaves the addon, relative to this file (libs/core/src/backend). */
export const NATIVE_MATMUL_ADDON_PATH = fileURLToPath(
  new URL('../../native/build/Release/rxrl_native.node', import.meta.url),
);

const KERNEL = 'BatchMatMul';
const BACKEND = 'wasm';

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** The slice of tfjs-backend-wasm's BackendWasm this kernel relies on. */
interface WasmBackendLike {
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  wasm: { HEAPU8: Uint8Array };
}

/** Addon serving the registered kernel; null while the wasm kernel is in place. */
let addon: NativeMatmulAddon | null = null;
let original: tf.KernelConfig | null = null;
let nativeCalls = 0;
const loaded = new Map<string, { addon: NativeMatmulAddon } | { error: string }>();

/** Load the addon at `path` once (default: the node-gyp build); the error says how to build it. */
export function loadNativeAddon(
  path: string = NATIVE_MATMUL_ADDON_PATH,
): { addon: NativeMatmulAddon } | { error: string } {
  const cached = loaded.get(path);
  if (cached) return cached;
  let result: { addon: NativeMatmulAddon } | { error: string };
  if (!existsSync(path)) {
    result = {
      error: `native matMul addon not built (${path} is missing); ${NATIVE_MATMUL_BUILD_HINT}`,
    };
  } else {
    try {
      // OpenMP threads that sleep rather than spin while waiting: on a shared
      // machine a spinning waiter steals the core its partner needs. libgomp
      // reads this once, when the addon loads.
      process.env['OMP_WAIT_POLICY'] ??= 'PASSIVE';
      // The same for OpenBLAS's own threads, which otherwise spin in sched_yield for
      // 2^28 cycles after each product — on the core the kernels' OpenMP threads need
      // next. `train_step` small, quiet 2 cores, medians of 16 steps in three alternating
      // runs: 472 / 529 / 481 ms spinning, 447 / 507 / 460 ms with 2^4; system time per
      // step 230–290 → 20–70 ms. OpenBLAS reads it when the addon loads it.
      process.env['OPENBLAS_THREAD_TIMEOUT'] ??= '4';
      const require = createRequire(import.meta.url);
      result = { addon: require(path) as NativeMatmulAddon };
    } catch (err) {
      // Typically libopenblas.so.0 missing at run time, or a Node ABI mismatch.
      result = {
        error: `native matMul addon at ${path} failed to load (${(err as Error).message}); re-${NATIVE_MATMUL_BUILD_HINT}`,
      };
    }
  }
  loaded.set(path, result);
  return result;
}

/** The addon at `path` (default: the node-gyp build), or null when it is not built or fails to load. */
export function nativeMatmulAddon(
  path: string = NATIVE_MATMUL_ADDON_PATH,
): NativeMatmulAddon | null {
  const r = loadNativeAddon(path);
  return 'addon' in r ? r.addon : null;
}

/** Whether BatchMatMul on wasm currently runs the native kernel. */
export function isNativeMatmulEnabled(): boolean {
  return original !== null;
}

/** How many BatchMatMul calls the native kernel has served in this process. */
export function nativeMatmulCalls(): number {
  return nativeCalls;
}

function heapF32(backend: WasmBackendLike, t: tf.TensorInfo): Float32Array {
  const data = backend.dataIdMap.get(t.dataId);
  if (!data)
    throw new Error(`native BatchMatMul: tensor ${String(t.shape)} is not on the wasm backend`);
  // A fresh view every call: wasm memory growth detaches older buffers.
  return new Float32Array(
    backend.wasm.HEAPU8.buffer,
    data.memoryOffset,
    tf.util.sizeFromShape(t.shape),
  );
}

/**
 * Block indices for a broadcast batched product: for every batch position of
 * the output, which batch block of `a` and of `b` it reads (NumPy broadcast
 * rules over the leading dimensions, as tf.matMul defines them).
 */
export function broadcastBatchIndex(
  aOuter: number[],
  bOuter: number[],
): { outer: number[]; aIndex: Int32Array; bIndex: Int32Array } {
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(aOuter, bOuter);
  const rank = outer.length;
  const pad = (s: number[]) => [...new Array<number>(rank - s.length).fill(1), ...s];
  const ap = pad(aOuter);
  const bp = pad(bOuter);
  const strides = (s: number[]) => {
    const st = new Array<number>(rank).fill(0);
    let acc = 1;
    for (let d = rank - 1; d >= 0; d--) {
      st[d] = s[d] === 1 ? 0 : acc; // size-1 dims broadcast: stride 0
      acc *= s[d]!;
    }
    return st;
  };
  const as = strides(ap);
  const bs = strides(bp);
  const total = tf.util.sizeFromShape(outer);
  const aIndex = new Int32Array(total);
  const bIndex = new Int32Array(total);
  const pos = new Array<number>(rank).fill(0);
  for (let p = 0; p < total; p++) {
    let ai = 0;
    let bi = 0;
    for (let d = 0; d < rank; d++) {
      ai += pos[d]! * as[d]!;
      bi += pos[d]! * bs[d]!;
    }
    aIndex[p] = ai;
    bIndex[p] = bi;
    for (let d = rank - 1; d >= 0; d--) {
      if (++pos[d]! < outer[d]!) break;
      pos[d] = 0;
    }
  }
  return { outer, aIndex, bIndex };
}

/**
 * The sgemm call a tf.matMul needs: `op(a)` is [M, K] and `op(b)` [K, N] in the
 * last two dims, and `batch` (null for plain 2-D products, every linear layer and
 * decode step) maps each output block to its blocks of a and b.
 */
export function matMulPlan(
  aShape: number[],
  bShape: number[],
  transposeA: boolean,
  transposeB: boolean,
): {
  M: number;
  N: number;
  K: number;
  batch: ReturnType<typeof broadcastBatchIndex> | null;
  shape: number[];
} {
  const ar = aShape.length;
  const br = bShape.length;
  const M = transposeA ? aShape[ar - 1]! : aShape[ar - 2]!;
  const K = transposeA ? aShape[ar - 2]! : aShape[ar - 1]!;
  const Kb = transposeB ? bShape[br - 1]! : bShape[br - 2]!;
  const N = transposeB ? bShape[br - 2]! : bShape[br - 1]!;
  if (K !== Kb) {
    throw new Error(
      `Error in matMul: inner shapes (${K}) and (${Kb}) of Tensors with shapes ${String(aShape)} and ` +
        `${String(bShape)} and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
    );
  }
  const batch =
    ar === 2 && br === 2 ? null : broadcastBatchIndex(aShape.slice(0, -2), bShape.slice(0, -2));
  return { M, N, K, batch, shape: [...(batch?.outer ?? []), M, N] };
}

function nativeBatchMatMul(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
  const native = addon;
  if (
    !native ||
    a.dtype !== 'float32' ||
    b.dtype !== 'float32' ||
    a.shape.length < 2 ||
    b.shape.length < 2
  ) {
    return original!.kernelFunc(args);
  }
  const backend = args.backend as unknown as WasmBackendLike;
  const { M, N, K, batch, shape } = matMulPlan(a.shape, b.shape, transposeA, transposeB);
  const out = backend.makeOutput(shape, 'float32');
  // Views are taken after makeOutput: its malloc may grow (and detach) the heap.
  const av = heapF32(backend, a);
  const bv = heapF32(backend, b);
  const ov = heapF32(backend, out);
  if (!batch || batch.aIndex.length === 1)
    native.sgemm(M, N, K, av, bv, ov, transposeA, transposeB);
  else native.sgemm(M, N, K, av, bv, ov, transposeA, transposeB, batch.aIndex, batch.bIndex);
  nativeCalls++;
  return out;
}

/**
 * Route every BatchMatMul on the wasm backend (plain, transposed, batched,
 * broadcast — and therefore every matMul gradient) through OpenBLAS sgemm,
 * reading and writing the wasm heap in place. Needs the addon built from
 * libs/core/native; without it nothing changes and the status says how to
 * build it. Threads default to OpenBLAS's own choice (OPENBLAS_NUM_THREADS,
 * else all cores). Idempotent.
 */
export function enableNativeMatmul(
  options: {
    /** OpenBLAS worker threads for every later product */
    threads?: number;
    /** a prebuilt addon elsewhere; default NATIVE_MATMUL_ADDON_PATH */
    addonPath?: string;
  } = {},
): NativeMatmulStatus {
  const loadedAddon = loadNativeAddon(options.addonPath ?? NATIVE_MATMUL_ADDON_PATH);
  if ('error' in loadedAddon) return { enabled: false, reason: loadedAddon.error };
  const native = loadedAddon.addon;
  if (options.threads != null) native.setThreads(options.threads);
  const threads = native.getThreads();
  if (original) {
    return {
      enabled: true,
      reason: `native matMul already on (OpenBLAS sgemm, ${threads} thread(s))`,
    };
  }
  const wasmKernel = tf.getKernel(KERNEL, BACKEND);
  if (!wasmKernel) {
    return {
      enabled: false,
      reason:
        'native matMul needs the wasm backend loaded first (import @tensorflow/tfjs-backend-wasm / selectBackend("wasm"))',
    };
  }
  original = wasmKernel;
  addon = native;
  tf.unregisterKernel(KERNEL, BACKEND);
  // setupFunc chained so the fallback still works if the wasm backend initialises later.
  tf.registerKernel({
    kernelName: KERNEL,
    backendName: BACKEND,
    kernelFunc: nativeBatchMatMul,
    ...(wasmKernel.setupFunc ? { setupFunc: wasmKernel.setupFunc } : {}),
  });
  return { enabled: true, reason: `native matMul on (OpenBLAS sgemm, ${threads} thread(s))` };
}

/** Put tfjs-backend-wasm's own BatchMatMul kernel back. */
export function disableNativeMatmul(): void {
  if (!original) return;
  tf.unregisterKernel(KERNEL, BACKEND);
  tf.registerKernel(original);
  original = null;
  addon = null;
}

/**
 * `enableNativeMatmul` unless `RXRL_NATIVE_MATMUL=0` (or `false`/`off`): the
 * call selectBackend makes after choosing wasm. Threads from
 * `RXRL_NATIVE_MATMUL_THREADS` when set.
 */
export function enableNativeMatmulFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): NativeMatmulStatus {
  const flag = (env['RXRL_NATIVE_MATMUL'] ?? '').trim().toLowerCase();
  if (['0', 'false', 'off', 'no'].includes(flag)) {
    disableNativeMatmul();
    return {
      enabled: false,
      reason: `native matMul disabled by RXRL_NATIVE_MATMUL=${env['RXRL_NATIVE_MATMUL']}`,
    };
  }
  const rawThreads = env['RXRL_NATIVE_MATMUL_THREADS'];
  if (rawThreads != null && rawThreads !== '') {
    const threads = Number(rawThreads);
    if (!Number.isInteger(threads) || threads < 1) {
      throw new RxrlConfigError(
        `RXRL_NATIVE_MATMUL_THREADS: expected a positive integer, got '${rawThreads}'`,
      );
    }
    return enableNativeMatmul({ threads });
  }
  return enableNativeMatmul();
}
