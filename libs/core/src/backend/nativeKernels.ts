import * as tf from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { takeOutput } from './nativeArrayPool';
import { matMulPlan, type NativeMatmulAddon } from './nativeMatmul';

/**
 * The kernels the `native` backend runs in C instead of the cpu backend's
 * JavaScript: every matMul (OpenBLAS), softmax and log-sum-exp over rows, the
 * four arithmetic ops (broadcast ones especially: the cpu backend computes a
 * multi-index per element for them), elementwise functions (exp, sigmoid,
 * …), reductions (sum, mean, max, min over any axes) and strided copies
 * (non-contiguous slices, splits, transposes, concatenation). Anything they do not cover — other dtypes,
 * ranks above 8 — goes to the cpu kernel of the same name.
 */

type KernelArgs = Parameters<tf.KernelFunc>[0];
type Fallback = (kernelName: string, args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

const MAX_RANK = 8;
const BINARY_OPS = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3 } as const;
// op codes of mapreduce.c
const UNARY_OPS = {
  Exp: 0,
  Neg: 1,
  Sigmoid: 2,
  Log: 3,
  Sqrt: 4,
  Rsqrt: 5,
  Square: 6,
  Abs: 7,
  Tanh: 8,
  Reciprocal: 9,
} as const;
const REDUCE_OPS = { Sum: 0, Mean: 1, Max: 2, Min: 3 } as const;

/** Row-major strides with the last one (1) included. */
function denseStrides(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    out[d] = acc;
    acc *= shape[d]!;
  }
  return out;
}

/** Strides that read `shape` broadcast to `outShape` (0 where a size-1 dim repeats). */
function broadcastStrides(shape: readonly number[], outShape: readonly number[]): Int32Array {
  const pad = outShape.length - shape.length;
  const padded = [...new Array<number>(pad).fill(1), ...shape];
  const dense = denseStrides(padded);
  return Int32Array.from(padded, (s, d) => (s === 1 && outShape[d] !== 1 ? 0 : dense[d]!));
}

export function nativeKernels(
  addon: NativeMatmulAddon,
  fallback: Fallback,
  count: () => void,
): Record<string, tf.KernelFunc> {
  const values = (backend: MathBackendCPU, t: tf.TensorInfo) => backend.data.get(t.dataId)!.values;
  const f32 = (backend: MathBackendCPU, t: tf.TensorInfo): Float32Array => {
    const v = values(backend, t);
    return v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
  };

  function batchMatMul(args: KernelArgs): tf.TensorInfo {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2)
      return fallback('BatchMatMul', args) as tf.TensorInfo;
    const backend = args.backend as unknown as MathBackendCPU;
    const { M, N, K, batch, shape } = matMulPlan(a.shape, b.shape, transposeA, transposeB);
    const out = takeOutput(backend, tf.util.sizeFromShape(shape));
    const av = f32(backend, a);
    const bv = f32(backend, b);
    if (!batch || batch.aIndex.length === 1)
      addon.sgemm(M, N, K, av, bv, out, transposeA, transposeB);
    else addon.sgemm(M, N, K, av, bv, out, transposeA, transposeB, batch.aIndex, batch.bIndex);
    count();
    return backend.makeTensorInfo(shape, 'float32', out);
  }

  function softmax(args: KernelArgs): tf.TensorInfo {
    const { logits } = args.inputs as { logits: tf.TensorInfo };
    const { dim } = args.attrs as { dim: number };
    const rank = logits.shape.length;
    if (logits.dtype !== 'float32' || rank === 0 || (dim !== -1 && dim !== rank - 1))
      return fallback('Softmax', args) as tf.TensorInfo;
    const backend = args.backend as unknown as MathBackendCPU;
    const cols = logits.shape[rank - 1]!;
    const size = tf.util.sizeFromShape(logits.shape);
    const out = takeOutput(backend, size);
    addon.softmaxRows(f32(backend, logits), out, cols === 0 ? 0 : size / cols, cols, false);
    count();
    return backend.makeTensorInfo(logits.shape, 'float32', out);
  }

  /** TopK over the last axis: a sorted k-buffer per row instead of an object per entry and a sort. */
  function topK(args: KernelArgs): tf.TensorInfo[] {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { k } = args.attrs as { k: number; sorted: boolean };
    const cols = x.shape[x.shape.length - 1] ?? 0;
    if (
      x.dtype !== 'float32' ||
      x.shape.length === 0 ||
      typeof addon.topkRows !== 'function' ||
      k > cols
    )
      return fallback('TopK', args) as tf.TensorInfo[];
    const backend = args.backend as unknown as MathBackendCPU;
    const rows = cols === 0 ? 0 : tf.util.sizeFromShape(x.shape) / cols;
    const values = new Float32Array(rows * k);
    const indices = new Int32Array(rows * k);
    addon.topkRows(f32(backend, x), rows, cols, k, values, indices);
    count();
    const shape = [...x.shape.slice(0, -1), k];
    return [
      backend.makeTensorInfo(shape, 'float32', values),
      backend.makeTensorInfo(shape, 'int32', indices),
    ];
  }

  // fused SwiGLU / RMS norm: registered only when the addon has them (see nativeBackend.ts)
  function swiglu(args: KernelArgs): tf.TensorInfo {
    const { gate, up } = args.inputs as { gate: tf.TensorInfo; up: tf.TensorInfo };
    const backend = args.backend as unknown as MathBackendCPU;
    const out = takeOutput(backend, tf.util.sizeFromShape(gate.shape));
    addon.swigluForward!(f32(backend, gate), f32(backend, up), out);
    count();
    return backend.makeTensorInfo(gate.shape, 'float32', out);
  }

  function swigluGrad(args: KernelArgs): tf.TensorInfo[] {
    const { gate, up, dy } = args.inputs as Record<'gate' | 'up' | 'dy', tf.TensorInfo>;
    const backend = args.backend as unknown as MathBackendCPU;
    const size = tf.util.sizeFromShape(gate.shape);
    const [dg, du] = [takeOutput(backend, size), takeOutput(backend, size)];
    addon.swigluBackward!(f32(backend, gate), f32(backend, up), f32(backend, dy), dg, du);
    count();
    return [
      backend.makeTensorInfo(gate.shape, 'float32', dg),
      backend.makeTensorInfo(gate.shape, 'float32', du),
    ];
  }

  function rmsNorm(args: KernelArgs): tf.TensorInfo {
    const { x, weight } = args.inputs as { x: tf.TensorInfo; weight: tf.TensorInfo };
    const { eps } = args.attrs as { eps: number };
    const backend = args.backend as unknown as MathBackendCPU;
    const out = takeOutput(backend, tf.util.sizeFromShape(x.shape));
    addon.rmsNormForward!(f32(backend, x), f32(backend, weight), eps, out);
    count();
    return backend.makeTensorInfo(x.shape, 'float32', out);
  }

  function rmsNormGrad(args: KernelArgs): tf.TensorInfo[] {
    const { x, weight, dy } = args.inputs as Record<'x' | 'weight' | 'dy', tf.TensorInfo>;
    const { eps } = args.attrs as { eps: number };
    const backend = args.backend as unknown as MathBackendCPU;
    const dx = takeOutput(backend, tf.util.sizeFromShape(x.shape));
    const dw = takeOutput(backend, tf.util.sizeFromShape(weight.shape));
    addon.rmsNormBackward!(f32(backend, x), f32(backend, weight), eps, f32(backend, dy), dx, dw);
    count();
    return [
      backend.makeTensorInfo(x.shape, 'float32', dx),
      backend.makeTensorInfo(weight.shape, 'float32', dw),
    ];
  }

  function attentionSoftmax(args: KernelArgs): tf.TensorInfo {
    const { scores, bias } = args.inputs as { scores: tf.TensorInfo; bias?: tf.TensorInfo };
    const { batch, heads, t, s, scale } = args.attrs as Record<
      'batch' | 'heads' | 't' | 's' | 'scale',
      number
    >;
    const backend = args.backend as unknown as MathBackendCPU;
    const out = takeOutput(backend, tf.util.sizeFromShape(scores.shape));
    const b = bias !== undefined ? f32(backend, bias) : null;
    addon.attentionSoftmax!(
      f32(backend, scores),
      b,
      out,
      batch,
      heads,
      t,
      s,
      bias?.shape[0] ?? 1,
      scale,
    );
    count();
    return backend.makeTensorInfo(scores.shape, 'float32', out);
  }

  function softmaxGrad(args: KernelArgs): tf.TensorInfo {
    const { p, dp } = args.inputs as { p: tf.TensorInfo; dp: tf.TensorInfo };
    const { scale } = args.attrs as { scale: number };
    const backend = args.backend as unknown as MathBackendCPU;
    const size = tf.util.sizeFromShape(p.shape);
    const cols = p.shape[p.shape.length - 1] ?? 1;
    const out = takeOutput(backend, size);
    addon.softmaxGradRows!(
      f32(backend, p),
      f32(backend, dp),
      out,
      cols === 0 ? 0 : size / cols,
      cols,
      scale,
    );
    count();
    return backend.makeTensorInfo(p.shape, 'float32', out);
  }

  function logitsGrad(args: KernelArgs): tf.TensorInfo {
    const { z, lse, targets, scale } = args.inputs as Record<
      'z' | 'lse' | 'targets' | 'scale',
      tf.TensorInfo
    >;
    const backend = args.backend as unknown as MathBackendCPU;
    const [rows, cols] = z.shape as [number, number];
    const out = takeOutput(backend, rows * cols);
    addon.logitsGradRows!(
      f32(backend, z),
      f32(backend, lse),
      values(backend, targets) as Int32Array,
      f32(backend, scale),
      out,
      rows,
      cols,
    );
    count();
    return backend.makeTensorInfo(z.shape, 'float32', out);
  }

  interface LmHeadAttrs {
    vocabMajor: boolean;
    invT: number;
    chunkRows: number;
    headGrad?: boolean;
  }

  /** (hidden, head, targets, n, d, v, vocabMajor, invT, chunkRows): what both LM-head entry points take first. */
  function lmHeadArgs(
    backend: MathBackendCPU,
    inputs: Record<'hidden' | 'head' | 'targets', tf.TensorInfo>,
    a: LmHeadAttrs,
  ) {
    const { hidden, head, targets } = inputs;
    const [n, d] = hidden.shape as [number, number];
    const v = a.vocabMajor ? head.shape[0]! : head.shape[1]!;
    return [
      f32(backend, hidden),
      f32(backend, head),
      values(backend, targets) as Int32Array,
      n,
      d,
      v,
      a.vocabMajor,
      a.invT,
      a.chunkRows,
    ] as const;
  }

  function lmHead(args: KernelArgs): tf.TensorInfo[] {
    const inputs = args.inputs as Record<'hidden' | 'head' | 'targets', tf.TensorInfo>;
    const backend = args.backend as unknown as MathBackendCPU;
    const common = lmHeadArgs(backend, inputs, args.attrs as unknown as LmHeadAttrs);
    const n = common[3];
    const value = new Float32Array(n);
    const lse = new Float32Array(n);
    const ticket = addon.lmHeadForward!(...common, lse, value);
    count();
    return [
      backend.makeTensorInfo([n], 'float32', value),
      backend.makeTensorInfo([n], 'float32', lse),
      backend.makeTensorInfo([1], 'int32', Int32Array.of(ticket)),
    ];
  }

  function lmHeadGrad(args: KernelArgs): tf.TensorInfo[] {
    const inputs = args.inputs as Record<
      'hidden' | 'head' | 'targets' | 'lse' | 'dy' | 'ticket',
      tf.TensorInfo
    >;
    const { hidden, head, lse, dy, ticket } = inputs;
    const a = args.attrs as unknown as LmHeadAttrs;
    const backend = args.backend as unknown as MathBackendCPU;
    const common = lmHeadArgs(backend, inputs, a);
    const [, , , n, d, v] = common;
    const dHidden = takeOutput(backend, n * d);
    const dHead = a.headGrad === false ? null : takeOutput(backend, d * v);
    addon.lmHeadBackward!(
      ...common,
      f32(backend, lse),
      f32(backend, dy),
      dHidden,
      dHead,
      (values(backend, ticket) as Int32Array)[0]!,
    );
    count();
    const out = [backend.makeTensorInfo(hidden.shape, 'float32', dHidden)];
    if (dHead !== null) out.push(backend.makeTensorInfo(head.shape, 'float32', dHead));
    return out;
  }

  function sampleRows(args: KernelArgs): tf.TensorInfo[] {
    const { logits, uniforms } = args.inputs as Record<'logits' | 'uniforms', tf.TensorInfo>;
    const { temperature, minP } = args.attrs as { temperature: number; minP: number };
    const backend = args.backend as unknown as MathBackendCPU;
    const [rows, cols] = logits.shape as [number, number];
    const tokens = new Int32Array(rows);
    const logprobs = new Float32Array(rows);
    addon.sampleRows!(
      f32(backend, logits),
      rows,
      cols,
      temperature,
      minP,
      f32(backend, uniforms),
      tokens,
      logprobs,
    );
    count();
    return [
      backend.makeTensorInfo([rows], 'int32', tokens),
      backend.makeTensorInfo([rows], 'float32', logprobs),
    ];
  }

  function logSumExp(args: KernelArgs): tf.TensorInfo {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const backend = args.backend as unknown as MathBackendCPU;
    if (x.dtype !== 'float32' || x.shape.length === 0)
      throw new Error(
        `log-sum-exp kernel: expected float32 of rank >= 1, got ${x.dtype} [${String(x.shape)}]`,
      );
    const cols = x.shape[x.shape.length - 1]!;
    const rows = cols === 0 ? 0 : tf.util.sizeFromShape(x.shape) / cols;
    const out = new Float32Array(rows);
    addon.logSumExpRows(f32(backend, x), out, rows, cols);
    count();
    return backend.makeTensorInfo([...x.shape.slice(0, -1), 1], 'float32', out);
  }

  function binary(name: keyof typeof BINARY_OPS) {
    return (args: KernelArgs): tf.TensorInfo => {
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      if (a.dtype !== 'float32' || b.dtype !== 'float32')
        return fallback(name, args) as tf.TensorInfo;
      const shape = tf.broadcast_util.assertAndGetBroadcastShape(a.shape, b.shape);
      if (shape.length > MAX_RANK) return fallback(name, args) as tf.TensorInfo;
      const backend = args.backend as unknown as MathBackendCPU;
      const out = takeOutput(backend, tf.util.sizeFromShape(shape));
      // Scalars run as rank 1: the kernel iterates over a last dimension.
      const s = shape.length === 0 ? [1] : shape;
      addon.binary(
        BINARY_OPS[name],
        Int32Array.from(s),
        out,
        f32(backend, a),
        0,
        broadcastStrides(a.shape, s),
        f32(backend, b),
        0,
        broadcastStrides(b.shape, s),
      );
      count();
      return backend.makeTensorInfo(shape, 'float32', out);
    };
  }

  /** A dense copy of the strided view `shape` at `offset` with `strides` of x. */
  function stridedView(
    backend: MathBackendCPU,
    x: tf.TensorInfo,
    shape: number[],
    offset: number,
    strides: number[],
  ): tf.TensorInfo {
    const src = values(backend, x) as Float32Array | Int32Array;
    const size = tf.util.sizeFromShape(shape);
    const out = x.dtype === 'float32' ? takeOutput(backend, size) : new Int32Array(size);
    if (size > 0) {
      const s = shape.length === 0 ? [1] : shape;
      const st = shape.length === 0 ? [1] : strides;
      addon.copy(
        Int32Array.from(s),
        src,
        offset,
        Int32Array.from(st),
        out,
        0,
        Int32Array.from(denseStrides(s)),
      );
    }
    count();
    return backend.makeTensorInfo(shape, x.dtype, out);
  }

  const copyable = (x: tf.TensorInfo) =>
    (x.dtype === 'float32' || x.dtype === 'int32') && x.shape.length <= MAX_RANK;

  function slice(args: KernelArgs): tf.TensorInfo {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { begin, size } = args.attrs as { begin: number | number[]; size: number | number[] };
    const [b, s] = tf.slice_util.parseSliceParams(x, begin, size) as [number[], number[]];
    // Contiguous slices are a free subarray on the cpu kernel.
    if (!copyable(x) || tf.slice_util.isSliceContinous(x.shape, b, s))
      return fallback('Slice', args) as tf.TensorInfo;
    tf.slice_util.assertParamsValid(x, b, s);
    const strides = denseStrides(x.shape);
    const offset = b.reduce((acc, v, d) => acc + v * strides[d]!, 0);
    return stridedView(args.backend as unknown as MathBackendCPU, x, s, offset, strides);
  }

  function splitV(args: KernelArgs): tf.TensorInfo[] {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { numOrSizeSplits, axis } = args.attrs as {
      numOrSizeSplits: number | number[];
      axis: number;
    };
    if (!copyable(x)) return fallback('SplitV', args) as tf.TensorInfo[];
    const ax = tf.util.parseAxisParam(axis, x.shape)[0]!;
    const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, ax) as number[];
    const strides = denseStrides(x.shape);
    const backend = args.backend as unknown as MathBackendCPU;
    let start = 0;
    return sizes.map((n) => {
      const shape = [...x.shape];
      shape[ax] = n;
      const out = stridedView(backend, x, shape, start * strides[ax]!, strides);
      start += n;
      return out;
    });
  }

  /** A dense copy of x with its axes in the order `perm`. */
  function permuted(backend: MathBackendCPU, x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
    const strides = denseStrides(x.shape);
    return stridedView(
      backend,
      x,
      perm.map((p) => x.shape[p]!),
      0,
      perm.map((p) => strides[p]!),
    );
  }

  function transpose(args: KernelArgs): tf.TensorInfo {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { perm } = args.attrs as { perm: number[] };
    if (!copyable(x)) return fallback('Transpose', args) as tf.TensorInfo;
    return permuted(args.backend as unknown as MathBackendCPU, x, perm);
  }

  function unary(name: keyof typeof UNARY_OPS) {
    return (args: KernelArgs): tf.TensorInfo => {
      const { x } = args.inputs as { x: tf.TensorInfo };
      if (x.dtype !== 'float32') return fallback(name, args) as tf.TensorInfo;
      const backend = args.backend as unknown as MathBackendCPU;
      const out = takeOutput(backend, tf.util.sizeFromShape(x.shape));
      addon.unary(UNARY_OPS[name], f32(backend, x), out);
      count();
      return backend.makeTensorInfo(x.shape, 'float32', out);
    };
  }

  /** Sum / Mean / Max / Min: reduced axes moved last (one strided copy if needed), then one pass per row. */
  function reduce(name: keyof typeof REDUCE_OPS) {
    return (args: KernelArgs): tf.TensorInfo => {
      const { x } = args.inputs as { x: tf.TensorInfo };
      const attrs = args.attrs as {
        axis?: number | number[];
        reductionIndices?: number | number[];
        keepDims: boolean;
      };
      if (x.dtype !== 'float32' || x.shape.length > MAX_RANK || x.shape.length === 0)
        return fallback(name, args) as tf.TensorInfo;
      const backend = args.backend as unknown as MathBackendCPU;
      const axes = tf.util.parseAxisParam(attrs.axis ?? attrs.reductionIndices ?? null!, x.shape);
      const kept = x.shape.map((_, d) => d).filter((d) => !axes.includes(d));
      const perm = [...kept, ...axes];
      const moved = perm.every((p, i) => p === i) ? null : permuted(backend, x, perm);
      const rows = kept.reduce((acc, d) => acc * x.shape[d]!, 1);
      const cols = axes.reduce((acc, d) => acc * x.shape[d]!, 1);
      const out = new Float32Array(rows);
      addon.reduceRows(REDUCE_OPS[name], f32(backend, moved ?? x), out, rows, cols);
      if (moved) backend.disposeIntermediateTensorInfo(moved);
      count();
      const shape = attrs.keepDims
        ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d))
        : kept.map((d) => x.shape[d]!);
      return backend.makeTensorInfo(shape, 'float32', out);
    };
  }

  /**
   * GatherV2 without batch dimensions: whole contiguous slices copied per index (an
   * embedding lookup is one row copy per token). The cpu kernel reads and writes every
   * element through multi-index buffer accessors: ~20 ms for 1024 rows of 64.
   */
  function gatherV2(args: KernelArgs): tf.TensorInfo {
    const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
    const { axis, batchDims } = args.attrs as { axis: number; batchDims?: number };
    if (!copyable(x) || (batchDims ?? 0) !== 0 || indices.dtype !== 'int32')
      return fallback('GatherV2', args) as tf.TensorInfo;
    const backend = args.backend as unknown as MathBackendCPU;
    const ax = tf.util.parseAxisParam(axis, x.shape)[0]!;
    const dim = x.shape[ax]!;
    const outer = x.shape.slice(0, ax).reduce((p, d) => p * d, 1);
    const inner = x.shape.slice(ax + 1).reduce((p, d) => p * d, 1);
    const idx = values(backend, indices) as Int32Array;
    for (const i of idx) {
      // the cpu kernel's check and message
      if (!(i >= 0 && i <= dim - 1))
        throw new Error(`GatherV2: the index value ${i} is not in [0, ${dim - 1}]`);
    }
    const src = values(backend, x) as Float32Array | Int32Array;
    const n = idx.length;
    const out =
      x.dtype === 'float32'
        ? takeOutput(backend, outer * n * inner)
        : new Int32Array(outer * n * inner);
    for (let o = 0; o < outer; o++) {
      const base = o * dim * inner;
      const dst = o * n * inner;
      if (inner === 1) for (let k = 0; k < n; k++) out[dst + k] = src[base + idx[k]!]!;
      else
        for (let k = 0; k < n; k++) {
          const from = base + idx[k]! * inner;
          out.set(src.subarray(from, from + inner), dst + k * inner);
        }
    }
    count();
    return backend.makeTensorInfo(
      [...x.shape.slice(0, ax), ...indices.shape, ...x.shape.slice(ax + 1)],
      x.dtype,
      out,
    );
  }

  function concat(args: KernelArgs): tf.TensorInfo {
    const inputs = args.inputs as unknown as tf.TensorInfo[];
    const { axis } = args.attrs as { axis: number };
    const first = inputs[0]!;
    if (inputs.some((t) => !copyable(t) || t.dtype !== first.dtype) || first.shape.length === 0)
      return fallback('Concat', args) as tf.TensorInfo;
    const ax = tf.util.parseAxisParam(axis, first.shape)[0]!;
    const shape = tf.backend_util.computeOutShape(
      inputs.map((t) => t.shape),
      ax,
    );
    const backend = args.backend as unknown as MathBackendCPU;
    const size = tf.util.sizeFromShape(shape);
    const out = first.dtype === 'float32' ? takeOutput(backend, size) : new Int32Array(size);
    const dst = Int32Array.from(denseStrides(shape));
    let start = 0;
    for (const t of inputs) {
      if (tf.util.sizeFromShape(t.shape) > 0) {
        addon.copy(
          Int32Array.from(t.shape),
          values(backend, t) as Float32Array | Int32Array,
          0,
          Int32Array.from(denseStrides(t.shape)),
          out,
          start * dst[ax]!,
          dst,
        );
      }
      start += t.shape[ax]!;
    }
    count();
    return backend.makeTensorInfo(shape, first.dtype, out);
  }

  return {
    ...Object.fromEntries(
      (Object.keys(UNARY_OPS) as (keyof typeof UNARY_OPS)[]).map((k) => [k, unary(k)]),
    ),
    ...Object.fromEntries(
      (Object.keys(REDUCE_OPS) as (keyof typeof REDUCE_OPS)[]).map((k) => [k, reduce(k)]),
    ),
    Concat: concat as tf.KernelFunc,
    GatherV2: gatherV2 as tf.KernelFunc,
    BatchMatMul: batchMatMul as tf.KernelFunc,
    Softmax: softmax as tf.KernelFunc,
    TopK: topK as tf.KernelFunc,
    LogSumExpRows: logSumExp as tf.KernelFunc,
    AttentionSoftmax: attentionSoftmax as tf.KernelFunc,
    LogitsGrad: logitsGrad as tf.KernelFunc,
    LmHead: lmHead as tf.KernelFunc,
    LmHeadGrad: lmHeadGrad as tf.KernelFunc,
    SampleRows: sampleRows as tf.KernelFunc,
    SoftmaxGrad: softmaxGrad as tf.KernelFunc,
    Swiglu: swiglu as tf.KernelFunc,
    SwigluGrad: swigluGrad as tf.KernelFunc,
    RmsNorm: rmsNorm as tf.KernelFunc,
    RmsNormGrad: rmsNormGrad as tf.KernelFunc,
    Add: binary('Add') as tf.KernelFunc,
    Sub: binary('Sub') as tf.KernelFunc,
    Multiply: binary('Multiply') as tf.KernelFunc,
    RealDiv: binary('RealDiv') as tf.KernelFunc,
    Slice: slice as tf.KernelFunc,
    SplitV: splitV as tf.KernelFunc,
    Transpose: transpose as tf.KernelFunc,
  };
}
