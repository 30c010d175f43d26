import * as tf from '@tensorflow/tfjs-core';
import { isNativeMatmulEnabled } from '../backend/nativeMatmul';

/**
 * True when transposed and batched matMuls are as fast as plain ones: every
 * backend but wasm, and wasm once the native OpenBLAS kernel replaced its
 * BatchMatMul. Plain wasm (XNNPACK) is fast only for non-transposed 2-D
 * products; its transposed and batched products fall to a scalar loop.
 */
export function directMatMulIsFast(): boolean {
  return tf.getBackend() !== 'wasm' || isNativeMatmulEnabled();
}

/** `op(a)·op(b)` for 2-D operands, in the fastest form this backend has. */
export function matMulT(
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  transposeA = false,
  transposeB = false,
): tf.Tensor2D {
  if (directMatMulIsFast()) return tf.matMul(a, b, transposeA, transposeB);
  return tf.matMul(transposeA ? tf.transpose(a) : a, transposeB ? tf.transpose(b) : b);
}

/**
 * Below this many multiply-adds per slice, wasm's batched scalar loop beats
 * splitting into XNNPACK 2-D products: each split slice costs ~0.4 ms of
 * unstack/stack/dispatch, which dwarfs the work of attention-sized slices
 * (measured on wasm: 512 × [12×16]·[16×12] 1.2 ms batched vs 195 ms split;
 * 16 × [256×64]·[64×256] 48 vs 70 ms; 8 × [512×64]·[64×512] 102 vs 25 ms).
 */
const SPLIT_MIN_SLICE_MACS = 1 << 23;

function sliceIsSmall(a: tf.Tensor3D, b: tf.Tensor3D, transposeA: boolean, transposeB: boolean) {
  const [, r0, c0] = a.shape;
  const [, , c1] = b.shape;
  const m = transposeA ? c0 : r0;
  const k = transposeA ? r0 : c0;
  const n = transposeB ? b.shape[1] : c1;
  return m * k * n < SPLIT_MIN_SLICE_MACS;
}

/**
 * Per-slice `op(a[i])·op(b[i])` of `[N, ·, ·]` operands: one batched matMul
 * where that is fast (or the slices are small), else N plain 2-D products with
 * the transposes materialised.
 */
export function batchMatMulT(
  a: tf.Tensor3D,
  b: tf.Tensor3D,
  transposeA = false,
  transposeB = false,
): tf.Tensor3D {
  if (directMatMulIsFast() || sliceIsSmall(a, b, transposeA, transposeB))
    return tf.matMul(a, b, transposeA, transposeB);
  const aa = transposeA ? tf.transpose(a, [0, 2, 1]) : a;
  const bb = transposeB ? tf.transpose(b, [0, 2, 1]) : b;
  const n = aa.shape[0];
  if (n === 1) {
    const out = tf.matMul(
      tf.reshape(aa, aa.shape.slice(1) as [number, number]),
      tf.reshape(bb, bb.shape.slice(1) as [number, number]),
    );
    return tf.reshape(out, [1, aa.shape[1], bb.shape[2]]);
  }
  // Copy the unstacked lists: tfjs keeps the arrays it returns on its tape.
  const as = [...(tf.unstack(aa) as tf.Tensor2D[])];
  const bs = [...(tf.unstack(bb) as tf.Tensor2D[])];
  return tf.stack(as.map((ai, i) => tf.matMul(ai, bs[i]!))) as tf.Tensor3D;
}
