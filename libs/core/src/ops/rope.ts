import * as tf from '@tensorflow/tfjs-core';
import './kernelGradients';

/** Llama-3 frequency-dependent RoPE scaling, HF `rope_scaling` with `rope_type: llama3`. */
export interface Llama3RopeScaling {
  rope_type: 'llama3';
  factor: number;
  low_freq_factor: number;
  high_freq_factor: number;
  original_max_position_embeddings: number;
}

/** What rotary embeddings need from a model's config.json. */
export interface RopeConfig {
  headDim: number;
  ropeTheta: number;
  ropeScaling?: Llama3RopeScaling | null;
}

/**
 * Inverse frequencies `[headDim/2]` as HF computes them, in float64:
 * `1 / theta^(2i/d)`, then Llama-3 scaling when configured (long wavelengths
 * divided by `factor`, short ones kept, the band between interpolated).
 */
export function ropeInvFreq(cfg: RopeConfig): Float64Array {
  const { headDim, ropeTheta } = cfg;
  if (!Number.isInteger(headDim) || headDim <= 0 || headDim % 2 !== 0) {
    throw new Error(`rope: headDim must be a positive even integer, got ${headDim}`);
  }
  const half = headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.pow(ropeTheta, (2 * i) / headDim);
  const s = cfg.ropeScaling;
  if (s == null) return inv;
  if (s.rope_type !== 'llama3') {
    throw new Error(
      `rope: rope_scaling.rope_type '${String(s.rope_type)}' is not supported; expected 'llama3' or no rope_scaling`,
    );
  }
  const lowWavelen = s.original_max_position_embeddings / s.low_freq_factor;
  const highWavelen = s.original_max_position_embeddings / s.high_freq_factor;
  for (let i = 0; i < half; i++) {
    const wavelen = (2 * Math.PI) / inv[i];
    if (wavelen > lowWavelen) {
      inv[i] = inv[i] / s.factor;
    } else if (wavelen >= highWavelen) {
      const smooth =
        (s.original_max_position_embeddings / wavelen - s.low_freq_factor) /
        (s.high_freq_factor - s.low_freq_factor);
      inv[i] = (1 - smooth) * (inv[i] / s.factor) + smooth * inv[i];
    }
  }
  return inv;
}

/**
 * Position ids from a `[batch, seqLen]` attention mask (1 = token, 0 = padding):
 * `cumsum(mask) − 1`, clamped at 0, so left-padded rows start at position 0.
 */
export function positionsFromMask(
  mask: ArrayLike<number>,
  batch: number,
  seqLen: number,
): Int32Array {
  if (mask.length !== batch * seqLen) {
    throw new Error(
      `positionsFromMask: mask has ${mask.length} entries, expected batch*seqLen = ${batch * seqLen}`,
    );
  }
  const pos = new Int32Array(batch * seqLen);
  for (let b = 0; b < batch; b++) {
    let c = 0;
    for (let t = 0; t < seqLen; t++) {
      c += mask[b * seqLen + t] ? 1 : 0;
      pos[b * seqLen + t] = Math.max(c - 1, 0);
    }
  }
  return pos;
}

/**
 * Rotary cos/sin tables `[batch, seqLen, headDim]` for the given absolute positions
 * (HF layout: the half-width frequencies repeated twice). Angles are computed in
 * float64 and only the final cos/sin are rounded to float32.
 */
export function ropeCosSin(
  positions: Int32Array,
  batch: number,
  seqLen: number,
  cfg: RopeConfig,
): { cos: tf.Tensor3D; sin: tf.Tensor3D } {
  if (positions.length !== batch * seqLen) {
    throw new Error(
      `ropeCosSin: positions has ${positions.length} entries, expected batch*seqLen = ${batch * seqLen}`,
    );
  }
  const inv = ropeInvFreq(cfg);
  const d = cfg.headDim;
  const half = d / 2;
  const cos = new Float32Array(batch * seqLen * d);
  const sin = new Float32Array(batch * seqLen * d);
  for (let r = 0; r < batch * seqLen; r++) {
    const p = positions[r];
    for (let i = 0; i < half; i++) {
      const a = p * inv[i];
      const c = Math.cos(a);
      const s = Math.sin(a);
      cos[r * d + i] = c;
      cos[r * d + i + half] = c;
      sin[r * d + i] = s;
      sin[r * d + i + half] = s;
    }
  }
  return { cos: tf.tensor3d(cos, [batch, seqLen, d]), sin: tf.tensor3d(sin, [batch, seqLen, d]) };
}

/**
 * Rotary position embedding, HF rotate-half convention:
 * `x·cos + rotate_half(x)·sin` with `rotate_half(x) = cat(−x2, x1)`.
 * `x` is `[B, T, H, Dh]`, cos/sin are `[B, T, Dh]` (shared by all heads).
 */
export function applyRope(x: tf.Tensor4D, cos: tf.Tensor3D, sin: tf.Tensor3D): tf.Tensor4D {
  const [b, t, , dh] = x.shape;
  if (
    cos.shape[0] !== b ||
    cos.shape[1] !== t ||
    cos.shape[2] !== dh ||
    sin.shape.join() !== cos.shape.join()
  ) {
    throw new Error(
      `applyRope: expected cos/sin [${b},${t},${dh}] for x ${JSON.stringify(x.shape)}, got ${JSON.stringify(cos.shape)} / ${JSON.stringify(sin.shape)}`,
    );
  }
  return tf.tidy(() => {
    const half = dh / 2;
    const [x1, x2] = tf.split(x, [half, half], 3);
    const rotated = tf.concat([tf.neg(x2), x1], 3);
    const c = tf.reshape(cos, [b, t, 1, dh]);
    const s = tf.reshape(sin, [b, t, 1, dh]);
    return tf.add(tf.mul(x, c), tf.mul(rotated, s)) as tf.Tensor4D;
  });
}
