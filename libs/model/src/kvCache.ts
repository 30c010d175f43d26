import * as tf from '@tensorflow/tfjs-core';

/**
 * Keys and values of every layer for the tokens seen so far, plus the attention
 * mask over them, so decoding a new token costs one token's forward pass.
 *
 * Keys are stored after RoPE (their positions never change). Each append
 * concatenates along the sequence axis and disposes the previous tensors, so the
 * cache owns exactly two tensors per layer; call {@link KVCache.dispose} when done.
 */
export class KVCache {
  private keys: (tf.Tensor4D | null)[];
  private values: (tf.Tensor4D | null)[];
  /** `[batch, length]` row-major, 1 = real token, 0 = padding. */
  private maskData: Uint8Array;
  /** Real tokens per row so far; the next real token's position. */
  private realCounts: Int32Array;
  private len = 0;

  constructor(
    readonly numLayers: number,
    readonly batch: number,
  ) {
    this.keys = new Array(numLayers).fill(null);
    this.values = new Array(numLayers).fill(null);
    this.maskData = new Uint8Array(0);
    this.realCounts = new Int32Array(batch);
  }

  /** Number of cached positions (padding included). */
  get length(): number {
    return this.len;
  }

  /** The attention mask over cached positions, `[batch, length]`. */
  get mask(): Uint8Array {
    return this.maskData;
  }

  /**
   * Record the mask of `t` new positions (`[batch, t]`, row-major) and return
   * their absolute positions: cumsum of the mask − 1 over the whole row, clamped at 0.
   * Called once per forward pass, before the layers run.
   */
  appendMask(newMask: ArrayLike<number>, t: number): Int32Array {
    if (newMask.length !== this.batch * t) {
      throw new RangeError(`KVCache: mask has ${newMask.length} entries, expected batch*t = ${this.batch * t}`);
    }
    const s = this.len + t;
    const mask = new Uint8Array(this.batch * s);
    const positions = new Int32Array(this.batch * t);
    for (let b = 0; b < this.batch; b++) {
      mask.set(this.maskData.subarray(b * this.len, (b + 1) * this.len), b * s);
      for (let i = 0; i < t; i++) {
        const real = newMask[b * t + i] ? 1 : 0;
        mask[b * s + this.len + i] = real;
        this.realCounts[b]! += real;
        positions[b * t + i] = Math.max(this.realCounts[b]! - 1, 0);
      }
    }
    this.maskData = mask;
    this.len = s;
    return positions;
  }

  /**
   * Append layer `layer`'s new keys/values `[B, t, Hkv, Dh]` and return the full
   * `[B, S, Hkv, Dh]` tensors. The returned tensors are owned by the cache.
   */
  update(layer: number, k: tf.Tensor4D, v: tf.Tensor4D): { k: tf.Tensor4D; v: tf.Tensor4D } {
    const oldK = this.keys[layer] ?? null;
    const oldV = this.values[layer] ?? null;
    const fullK = oldK === null ? k.clone() : tf.concat([oldK, k], 1);
    const fullV = oldV === null ? v.clone() : tf.concat([oldV, v], 1);
    tf.keep(fullK);
    tf.keep(fullV);
    oldK?.dispose();
    oldV?.dispose();
    this.keys[layer] = fullK;
    this.values[layer] = fullV;
    return { k: fullK, v: fullV };
  }

  /** Free every cached tensor. */
  dispose(): void {
    for (const t of [...this.keys, ...this.values]) t?.dispose();
    this.keys.fill(null);
    this.values.fill(null);
  }
}
