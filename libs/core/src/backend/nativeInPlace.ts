import * as tf from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { NATIVE_BACKEND } from './nativeNames';
import type { NativeMatmulAddon } from './nativeMatmul';

/**
 * Optimizer arithmetic that the `native` backend runs in one pass, in place,
 * instead of as a chain of TensorFlow.js ops each allocating a new array. For
 * a 0.5B-parameter model the op-by-op Adam step writes ~28 GB of fresh pages
 * per step and took longer than the forward and backward passes together.
 *
 * TensorFlow.js tensors are immutable, and clones share storage, so the
 * in-place path runs only on storage that nothing else can see: float32
 * tensors on the native backend whose data no other tensor references
 * (backend refCount 1). Anything else returns `false` / `null` and the caller
 * runs its op-by-op version, which gives the same bits.
 */

let addon: NativeMatmulAddon | null = null;
let calls = 0;

/** How many updates the in-place path has served in this process (for tests and benchmarks). */
export function nativeInPlaceCalls(): number {
  return calls;
}

/** Called by registerNativeBackend with the loaded addon. */
export function setNativeInPlaceAddon(a: NativeMatmulAddon): void {
  addon = a;
}

/** Adam's per-step constants, as the op-by-op update rounds them (float32). */
export interface AdamStepConstants {
  /** gradient multiplier (global-norm clipping); 1 = none */
  gradScale: number;
  /** coupled L2 weight decay (Adam) added to the gradient; 0 = none */
  l2: number;
  beta1: number;
  beta2: number;
  /** sqrt(1 − β2^t) */
  biasCorrection2Sqrt: number;
  eps: number;
  /** decoupled decay factor 1 − lr·wd (AdamW); 1 = none */
  decay: number;
  /** lr / (1 − β1^t) */
  stepSize: number;
}

function cpuBackend(): MathBackendCPU | null {
  if (addon === null || tf.getBackend() !== NATIVE_BACKEND) return null;
  return tf.backend() as unknown as MathBackendCPU;
}

/** The tensor's Float32Array when it is float32 on the native backend, else null. */
function floatValues(backend: MathBackendCPU, t: tf.Tensor): Float32Array | null {
  if (t.dtype !== 'float32' || t.isDisposed) return null;
  const data = backend.data.get(t.dataId);
  return data && data.values instanceof Float32Array && data.values.length === t.size
    ? data.values
    : null;
}

/** Like floatValues, but only when no other tensor shares the storage (safe to write). */
function ownedValues(backend: MathBackendCPU, t: tf.Tensor): Float32Array | null {
  return backend.refCount(t.dataId) === 1 ? floatValues(backend, t) : null;
}

/**
 * p, m, v ← one Adam step with gradient `g`, in place. Returns false (nothing
 * changed) unless the native backend is active and p, m and v are float32
 * storage owned by these tensors alone.
 */
export function adamUpdateInPlace(
  p: tf.Tensor,
  g: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  c: AdamStepConstants,
): boolean {
  const backend = cpuBackend();
  if (backend === null || typeof addon!.adamUpdate !== 'function') return false;
  if (p.dataId === m.dataId || p.dataId === v.dataId || m.dataId === v.dataId) return false;
  const pv = ownedValues(backend, p);
  const mv = ownedValues(backend, m);
  const vv = ownedValues(backend, v);
  const gv = floatValues(backend, g);
  if (!pv || !mv || !vv || !gv || gv.length !== pv.length) return false;
  const flags = (c.gradScale !== 1 ? 1 : 0) | (c.l2 !== 0 ? 2 : 0) | (c.decay !== 1 ? 4 : 0);
  // tf.mul(x, s) rounds a JS number s to float32 before multiplying; so does this array
  const constants = Float32Array.of(
    c.gradScale,
    c.l2,
    c.beta1,
    1 - c.beta1,
    c.beta2,
    1 - c.beta2,
    c.biasCorrection2Sqrt,
    c.eps,
    c.decay,
    c.stepSize,
  );
  addon!.adamUpdate(pv, gv, mv, vv, constants, flags);
  calls++;
  return true;
}

/**
 * Σ x² over a whole tensor without the squared copy, with the bits of
 * sum(square(x)) on the native backend; null where that path does not apply.
 */
export function sumSquares(x: tf.Tensor): number | null {
  const backend = cpuBackend();
  if (backend === null || typeof addon!.sumSquares !== 'function') return null;
  const values = floatValues(backend, x);
  if (!values) return null;
  calls++;
  return addon!.sumSquares(values);
}

/**
 * `acc += op(a)·op(b)` in place for 2-D float32 tensors (a gradient summed
 * over chunks without a new array and an add per chunk). Returns false
 * (nothing changed) unless the native backend is active, `acc` owns its
 * storage alone and the shapes agree; the caller then adds op by op.
 */
export function matMulAccumulateInPlace(
  acc: tf.Tensor2D,
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  transposeA = false,
  transposeB = false,
): boolean {
  const backend = cpuBackend();
  if (backend === null || typeof addon!.sgemmAccumulate !== 'function') return false;
  const [m, k] = transposeA ? [a.shape[1], a.shape[0]] : a.shape;
  const [kb, n] = transposeB ? [b.shape[1], b.shape[0]] : b.shape;
  if (a.rank !== 2 || b.rank !== 2 || k !== kb || acc.shape[0] !== m || acc.shape[1] !== n)
    return false;
  if (acc.dataId === a.dataId || acc.dataId === b.dataId) return false;
  const out = ownedValues(backend, acc);
  const av = floatValues(backend, a);
  const bv = floatValues(backend, b);
  if (!out || !av || !bv) return false;
  addon!.sgemmAccumulate(m, n, k, av, bv, out, transposeA, transposeB);
  calls++;
  return true;
}
