import * as tf from '@tensorflow/tfjs-core';
import './kernelGradients';
import {
  ATTENTION_SOFTMAX_KERNEL,
  NATIVE_BACKEND,
  SOFTMAX_GRAD_KERNEL,
} from '../backend/nativeNames';
import { fusedKernelFor } from './activations';
import { customOp } from './customOp';
import { batchMatMulT } from './matMulRouting';

/** Options of {@link attention}. */
export interface AttentionOptions {
  /** `[B, S]`, 1 = real token, 0 = padding; padded keys get no attention. */
  keyMask?: tf.Tensor2D;
  /** absolute key index of query row 0; default `S − T` (prefill and cached decode). */
  queryOffset?: number;
  /** mask keys after each query's own position; default true. */
  causal?: boolean;
  /**
   * Packed sequences: `[B·S]` segment id per key position (0 = padding), for
   * self-attention over a packed row (T = S, no cache). A query attends only to
   * keys of its own segment, so several sequences share a row without seeing
   * each other.
   */
  segmentIds?: Int32Array;
}

// Large negative instead of −Inf: a row with every key masked stays finite
// (a uniform softmax over masked keys) instead of turning into NaN.
const MASKED = -1e9;

/** Additive mask bias `[B, T, S]`, or null when nothing is masked. */
function maskBias(b: number, t: number, s: number, opts: AttentionOptions): tf.Tensor3D | null {
  const causal = opts.causal ?? true;
  const offset = opts.queryOffset ?? s - t;
  let bias: tf.Tensor3D | null = null;
  if (causal) {
    const c = new Float32Array(t * s);
    let any = false;
    for (let i = 0; i < t; i++) {
      for (let j = Math.max(offset + i + 1, 0); j < s; j++) {
        c[i * s + j] = MASKED;
        any = true;
      }
    }
    if (any) bias = tf.tensor3d(c, [1, t, s]);
  }
  if (opts.keyMask !== undefined) {
    const km = opts.keyMask;
    if (km.rank !== 2 || km.shape[0] !== b || km.shape[1] !== s) {
      throw new Error(`attention: expected keyMask [${b},${s}], got ${JSON.stringify(km.shape)}`);
    }
    const kb = tf.reshape(tf.mul(tf.sub(tf.cast(km, 'float32'), 1), -MASKED), [
      b,
      1,
      s,
    ]) as tf.Tensor3D;
    bias = bias === null ? kb : (tf.add(bias, kb) as tf.Tensor3D);
  }
  if (opts.segmentIds !== undefined) {
    const seg = opts.segmentIds;
    if (t !== s || seg.length !== b * s) {
      throw new Error(
        `attention: segmentIds needs self-attention (T = S) and length B·S = ${b * s}, got T ${t}, S ${s}, length ${seg.length}`,
      );
    }
    const sb = new Float32Array(b * t * s);
    for (let r = 0; r < b; r++) {
      for (let i = 0; i < t; i++) {
        const qi = seg[r * s + i]!;
        for (let j = 0; j < s; j++) {
          const kj = seg[r * s + j]!;
          if (kj === 0 || kj !== qi) sb[(r * t + i) * s + j] = MASKED;
        }
      }
    }
    const st = tf.tensor3d(sb, [b, t, s]);
    bias = bias === null ? st : (tf.add(bias, st) as tf.Tensor3D);
  }
  return bias;
}

/**
 * Scaled dot-product attention with grouped-query heads.
 *
 * q `[B, T, Hq, Dh]`, k and v `[B, S, Hkv, Dh]` with Hq a multiple of Hkv
 * (query head h reads kv head ⌊h / (Hq/Hkv)⌋, as HF `repeat_kv`); scale 1/√Dh,
 * softmax in float32. Returns `[B, T, Hq, Dh]`.
 *
 * The query heads sharing a kv head are stacked into one `[Hq/Hkv · T, Dh]`
 * matrix, so k/v are never repeated; each product is one batched matMul over
 * B·Hkv slices, or B·Hkv plain 2-D matMuls on wasm without the native kernel
 * (see matMulRouting.ts), in the forward pass and in the custom gradient.
 */
export function attention(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  opts: AttentionOptions = {},
): tf.Tensor4D {
  const [b, t, hq, dh] = q.shape;
  const [kb, s, hkv, kdh] = k.shape;
  if (kb !== b || kdh !== dh || v.shape.join() !== k.shape.join()) {
    throw new Error(
      `attention: expected k and v [${b},S,Hkv,${dh}] with equal shapes, got q ${JSON.stringify(q.shape)}, k ${JSON.stringify(k.shape)}, v ${JSON.stringify(v.shape)}`,
    );
  }
  if (hq % hkv !== 0)
    throw new Error(`attention: query heads (${hq}) must be a multiple of kv heads (${hkv})`);
  const rep = hq / hkv;
  const n = b * hkv;
  const m = rep * t;
  const scale = 1 / Math.sqrt(dh);

  // the native backend's fused softmax kernels, forward and backward (the same rounding)
  const fused =
    fusedKernelFor(ATTENTION_SOFTMAX_KERNEL, q, k, v) &&
    tf.getKernel(SOFTMAX_GRAD_KERNEL, NATIVE_BACKEND) !== undefined;

  return tf.tidy(() => {
    const bias = maskBias(b, t, s, opts);
    const core = customOp(([q3, k3, v3], save) => {
      const qs = q3 as tf.Tensor3D;
      const ks = k3 as tf.Tensor3D;
      const vs = v3 as tf.Tensor3D;
      let p: tf.Tensor3D;
      if (fused) {
        // one pass: scale, mask, softmax (the bias broadcast over queries first when it is per key)
        const fullBias =
          bias !== null && bias.shape[1] !== t
            ? (tf.broadcastTo(bias, [bias.shape[0], t, s]) as tf.Tensor3D)
            : bias;
        p = tf
          .engine()
          .runKernel(
            ATTENTION_SOFTMAX_KERNEL,
            fullBias !== null
              ? { scores: batchMatMulT(qs, ks, false, true), bias: fullBias }
              : { scores: batchMatMulT(qs, ks, false, true) },
            { batch: b, heads: hq, t, s, scale },
          ) as tf.Tensor3D;
      } else {
        let scores: tf.Tensor = tf.mul(batchMatMulT(qs, ks, false, true), scale);
        if (bias !== null) {
          scores = tf.reshape(
            tf.add(
              tf.reshape(scores, [b, hq, t, s]),
              tf.reshape(bias, [bias.shape[0], 1, bias.shape[1], s]),
            ),
            [n, m, s],
          );
        }
        p = tf.softmax(scores) as tf.Tensor3D;
      }
      save([qs, ks, vs, p]);
      return {
        value: batchMatMulT(p, vs),
        gradFunc: (dy, saved) => {
          const [qq, kk, vv, pp] = saved as tf.Tensor3D[];
          const dO = dy as tf.Tensor3D;
          const dP = batchMatMulT(dO, vv, false, true);
          const dV = batchMatMulT(pp, dO, true, false);
          // softmax backward: dS = P ⊙ (dP − Σ_j dP·P), then the 1/√Dh scale
          const dS = (
            fused
              ? tf.engine().runKernel(SOFTMAX_GRAD_KERNEL, { p: pp, dp: dP }, { scale })
              : tf.mul(tf.mul(pp, tf.sub(dP, tf.sum(tf.mul(dP, pp), -1, true))), scale)
          ) as tf.Tensor3D;
          const dQ = batchMatMulT(dS, kk);
          const dK = batchMatMulT(dS, qq, true, false);
          return [dQ, dK, dV];
        },
      };
    });
    // [B,T,Hq,Dh] -> [B,Hq,T,Dh] = [B,Hkv,rep,T,Dh] -> [B·Hkv, rep·T, Dh]
    const q3 = tf.reshape(tf.transpose(q, [0, 2, 1, 3]), [n, m, dh]);
    const k3 = tf.reshape(tf.transpose(k, [0, 2, 1, 3]), [n, s, dh]);
    const v3 = tf.reshape(tf.transpose(v, [0, 2, 1, 3]), [n, s, dh]);
    const o = core(q3, k3, v3) as tf.Tensor3D;
    return tf.transpose(tf.reshape(o, [b, hq, t, dh]), [0, 2, 1, 3]) as tf.Tensor4D;
  });
}
