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
 * Per-slice `op(a[i])·op(b[i])` of `[N, ·, ·]` operands: one batched matMul
 * where that is fast, else N plain 2-D products with the transposes materialised.
 */
export function batchMatMulT(
  a: tf.Tensor3D,
  b: tf.Tensor3D,
  transposeA = false,
  transposeB = false,
): tf.Tensor3D {
  if (directMatMulIsFast()) return tf.matMul(a, b, transposeA, transposeB);
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
