import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { RxrlUsageError } from '@rxrl/core/base';

/** Options of {@link KVCache}. */
export const KVCacheOptionsSchema = z.object({
  /** initial capacity in positions (prompt + new tokens); doubled when exceeded (HF StaticCache `max_cache_len`). */
  max_cache_len: z.number().int().nonnegative().default(0),
});
export type KVCacheOptions = z.input<typeof KVCacheOptionsSchema>;

// Smallest capacity a growing cache allocates, so the first few decode steps
// after a short prompt do not each trigger a doubling.
const MIN_CAPACITY = 16;

/**
 * Keys and values of every layer for the tokens seen so far, plus the attention
 * mask over them, so decoding a new token costs one token's forward pass.
 *
 * Keys are stored after RoPE (their positions never change). Storage is one
 * preallocated host `Float32Array` per layer for K and one for V, laid out
 * `[batch, capacity, Hkv·Dh]`, filled in place; capacity starts at
 * `max_cache_len` and doubles (one copy) when a step would exceed it.
 *
 * Why host buffers (measured on wasm, `small` llama, context 1024, batch 1): a
 * TF.js tensor is immutable, so attention needs a fresh `[B, S, Hkv, Dh]` tensor
 * every step whatever the storage. Growing by `tf.concat` already costs one
 * O(S) memcpy per layer (≈0.03 ms), but the tensor it returns must stay alive in
 * the cache, and dropping rows means a device gather per layer. A `tf.Variable`
 * with `assign` copies the whole capacity each step (worse). Chunked blocks need
 * the same concat. From a host buffer the step tensor is one memcpy of the
 * valid prefix into the backend (≈0.02 ms; zero-copy on `cpu`), new positions
 * are written in place (O(new tokens)), the cache owns no tensors at all, and
 * {@link KVCache.select} is a plain row copy. The rest of a decode step's growth
 * with S is attention's own work (transposes, score matMuls, softmax over S).
 */
export class KVCache {
  /** Host K/V buffers per layer, `[batch, capacity, width]`; null until the layer's first update. */
  private keys: (Float32Array | null)[];
  private values: (Float32Array | null)[];
  /** Positions written per layer, so a missing or repeated update is caught. */
  private filled: Int32Array;
  /** `[batch, capacity]` row-major, 1 = real token, 0 = padding. */
  private maskData: Uint8Array;
  /** Real tokens per row so far; the next real token's position. */
  private realCounts: Int32Array;
  private len = 0;
  private cap: number;
  private kvHeads = 0;
  private headDim = 0;
  private disposed = false;
  /** Packing area for the `[B, S, ·]` step tensors when B > 1 (see {@link prefix}). */
  private scratch = new Float32Array(0);

  constructor(
    readonly numLayers: number,
    readonly batch: number,
    options: KVCacheOptions = {},
  ) {
    if (!Number.isInteger(numLayers) || numLayers < 1)
      throw new RxrlUsageError(`KVCache: numLayers must be a positive integer, got ${numLayers}`);
    if (!Number.isInteger(batch) || batch < 1)
      throw new RxrlUsageError(`KVCache: batch must be a positive integer, got ${batch}`);
    const opts = KVCacheOptionsSchema.parse(options);
    this.cap = opts.max_cache_len;
    this.keys = new Array<Float32Array | null>(numLayers).fill(null);
    this.values = new Array<Float32Array | null>(numLayers).fill(null);
    this.filled = new Int32Array(numLayers);
    this.maskData = new Uint8Array(batch * this.cap);
    this.realCounts = new Int32Array(batch);
  }

  /** Number of cached positions (padding included). */
  get length(): number {
    return this.len;
  }

  /** Positions the buffers hold before the next doubling. */
  get capacity(): number {
    return this.cap;
  }

  /** The attention mask over cached positions, `[batch, length]` row-major (a fresh array). */
  get mask(): Uint8Array {
    const out = new Uint8Array(this.batch * this.len);
    for (let b = 0; b < this.batch; b++)
      out.set(this.maskData.subarray(b * this.cap, b * this.cap + this.len), b * this.len);
    return out;
  }

  /**
   * Record the mask of `t` new positions (`[batch, t]`, row-major) and return
   * their absolute positions: cumsum of the mask − 1 over the whole row, clamped at 0.
   * Called once per forward pass, before the layers run.
   */
  appendMask(newMask: ArrayLike<number>, t: number): Int32Array {
    this.checkLive();
    if (newMask.length !== this.batch * t) {
      throw new RangeError(
        `KVCache: mask has ${newMask.length} entries, expected batch*t = ${this.batch * t}`,
      );
    }
    for (let l = 0; l < this.numLayers; l++) {
      if (this.filled[l] !== this.len) {
        throw new RxrlUsageError(
          `KVCache: layer ${l} holds ${this.filled[l]} positions, expected ${this.len}; every layer must be updated once per appendMask`,
        );
      }
    }
    const s = this.len + t;
    if (s > this.cap) this.grow(Math.max(s, 2 * this.cap, MIN_CAPACITY));
    const positions = new Int32Array(this.batch * t);
    for (let b = 0; b < this.batch; b++) {
      for (let i = 0; i < t; i++) {
        const real = newMask[b * t + i] ? 1 : 0;
        this.maskData[b * this.cap + this.len + i] = real;
        this.realCounts[b]! += real;
        positions[b * t + i] = Math.max(this.realCounts[b]! - 1, 0);
      }
    }
    this.len = s;
    return positions;
  }

  /**
   * Write layer `layer`'s keys/values `[B, t, Hkv, Dh]` of the `t` positions the
   * last {@link appendMask} added, and return the full `[B, S, Hkv, Dh]` keys and
   * values. The returned tensors are new and belong to the caller (the enclosing
   * tf.tidy); the cache keeps only its host copy.
   */
  update(layer: number, k: tf.Tensor4D, v: tf.Tensor4D): { k: tf.Tensor4D; v: tf.Tensor4D } {
    this.checkLive();
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.numLayers) {
      throw new RangeError(`KVCache: layer ${layer} outside 0..${this.numLayers - 1}`);
    }
    const [kb, t, hkv, dh] = k.shape;
    if (k.rank !== 4 || kb !== this.batch || v.shape.join() !== k.shape.join()) {
      throw new RxrlUsageError(
        `KVCache: expected k and v [${this.batch}, t, Hkv, Dh] with equal shapes, got k [${k.shape}] and v [${v.shape}]`,
      );
    }
    if (this.kvHeads === 0) {
      this.kvHeads = hkv;
      this.headDim = dh;
    } else if (hkv !== this.kvHeads || dh !== this.headDim) {
      throw new RxrlUsageError(
        `KVCache: layer ${layer} has [Hkv, Dh] = [${hkv}, ${dh}], the cache holds [${this.kvHeads}, ${this.headDim}]`,
      );
    }
    const start = this.filled[layer]!;
    if (start + t !== this.len) {
      throw new RxrlUsageError(
        `KVCache: layer ${layer} holds ${start} positions and got ${t} more, but appendMask made the length ${this.len}`,
      );
    }
    const width = hkv * dh;
    const kBuf = (this.keys[layer] ??= new Float32Array(this.batch * this.cap * width));
    const vBuf = (this.values[layer] ??= new Float32Array(this.batch * this.cap * width));
    const kd = k.dataSync() as Float32Array;
    const vd = v.dataSync() as Float32Array;
    for (let b = 0; b < this.batch; b++) {
      const at = (b * this.cap + start) * width;
      kBuf.set(kd.subarray(b * t * width, (b + 1) * t * width), at);
      vBuf.set(vd.subarray(b * t * width, (b + 1) * t * width), at);
    }
    this.filled[layer] = this.len;
    return { k: this.prefix(kBuf), v: this.prefix(vBuf) };
  }

  /**
   * A new cache holding rows `rows` of this one, in that order (repeats allowed:
   * one prompt's prefill shared by n samples). Keys, values, mask and positions
   * are copied, so decoding the new cache equals decoding those rows alone; this
   * cache is left as it was.
   */
  select(rows: ArrayLike<number>): KVCache {
    this.checkLive();
    if (rows.length === 0) throw new RxrlUsageError('KVCache.select: rows is empty');
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      if (!Number.isInteger(r) || r < 0 || r >= this.batch)
        throw new RxrlUsageError(
          `KVCache.select: row ${r} outside the cache's batch ${this.batch}`,
        );
    }
    const out = new KVCache(this.numLayers, rows.length, { max_cache_len: this.cap });
    out.len = this.len;
    out.kvHeads = this.kvHeads;
    out.headDim = this.headDim;
    out.filled.set(this.filled);
    const width = this.kvHeads * this.headDim;
    const rowSize = this.cap * width;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      out.maskData.set(this.maskData.subarray(r * this.cap, r * this.cap + this.len), i * this.cap);
      out.realCounts[i] = this.realCounts[r]!;
    }
    for (let l = 0; l < this.numLayers; l++) {
      const k = this.keys[l];
      const v = this.values[l];
      if (k == null || v == null) continue;
      const nk = new Float32Array(rows.length * rowSize);
      const nv = new Float32Array(rows.length * rowSize);
      const used = this.filled[l]! * width;
      for (let i = 0; i < rows.length; i++) {
        const from = rows[i]! * rowSize;
        nk.set(k.subarray(from, from + used), i * rowSize);
        nv.set(v.subarray(from, from + used), i * rowSize);
      }
      out.keys[l] = nk;
      out.values[l] = nv;
    }
    return out;
  }

  /** Free the cached keys and values; the cache cannot be used afterwards. */
  dispose(): void {
    this.keys.fill(null);
    this.values.fill(null);
    this.maskData = new Uint8Array(0);
    this.scratch = new Float32Array(0);
    this.disposed = true;
  }

  private checkLive(): void {
    if (this.disposed) throw new RxrlUsageError('KVCache: used after dispose()');
  }

  /**
   * `[B, S, Hkv, Dh]` tensor of the valid prefix of `buf`. Positions below S are
   * never written again (growth and select copy into new buffers), so on `cpu`,
   * where tf.tensor keeps the array it is given, aliasing the buffer is safe.
   */
  private prefix(buf: Float32Array): tf.Tensor4D {
    const width = this.kvHeads * this.headDim;
    const shape: [number, number, number, number] = [
      this.batch,
      this.len,
      this.kvHeads,
      this.headDim,
    ];
    if (this.batch === 1) return tf.tensor4d(buf.subarray(0, this.len * width), shape);
    // wasm and tensorflow copy on tensor creation, so one scratch array is
    // reused; a fresh array per step would be megabytes of garbage per layer.
    // cpu and native keep the array as the tensor's storage, and webgpu keeps
    // it until its first upload: there k and v would share one scratch.
    const n = this.batch * this.len * width;
    let packed: Float32Array;
    const backend = tf.getBackend();
    if (backend !== 'wasm' && backend !== 'tensorflow') packed = new Float32Array(n);
    else {
      if (this.scratch.length < n) this.scratch = new Float32Array(this.batch * this.cap * width);
      packed = this.scratch.subarray(0, n);
    }
    for (let b = 0; b < this.batch; b++) {
      packed.set(
        buf.subarray(b * this.cap * width, (b * this.cap + this.len) * width),
        b * this.len * width,
      );
    }
    return tf.tensor4d(packed, shape);
  }

  /** Move every buffer to capacity `cap` (one copy of the filled positions). */
  private grow(cap: number): void {
    const width = this.kvHeads * this.headDim;
    const move = <T extends Float32Array | Uint8Array>(
      old: T,
      w: number,
      used: number,
      make: (n: number) => T,
    ): T => {
      const next = make(this.batch * cap * w);
      for (let b = 0; b < this.batch; b++)
        next.set(old.subarray(b * this.cap * w, (b * this.cap + used) * w), b * cap * w);
      return next;
    };
    this.maskData = move(this.maskData, 1, this.len, (n) => new Uint8Array(n));
    for (let l = 0; l < this.numLayers; l++) {
      const k = this.keys[l];
      const v = this.values[l];
      if (k == null || v == null) continue;
      this.keys[l] = move(k, width, this.filled[l]!, (n) => new Float32Array(n));
      this.values[l] = move(v, width, this.filled[l]!, (n) => new Float32Array(n));
    }
    this.cap = cap;
  }
}
