import * as tf from '@tensorflow/tfjs-core';
import { RxrlUsageError } from '@rxrl/core/base';
import { KVCache, type CausalLM } from '@rxrl/model';

/**
 * A new cache holding only rows `rows` of `cache` (in that order), so decoding
 * can drop finished rows instead of running them to the end; `cache` is
 * disposed. Keys, values and the attention mask are copied exactly, and the new
 * cache's real-token counts (hence positions) are recomputed from the mask.
 *
 * `KVCache` has no row-select method, so the full per-layer tensors are read
 * through its public `update` by appending zero positions (no copy of the
 * semantics, just a zero-length concat).
 */
export function selectCacheRows(model: CausalLM, cache: KVCache, rows: Int32Array): KVCache {
  for (const r of rows) {
    if (!(r >= 0 && r < cache.batch)) throw new RxrlUsageError(`selectCacheRows: row ${r} outside the cache's batch ${cache.batch}`);
  }
  const s = cache.length;
  const out = new KVCache(cache.numLayers, rows.length);
  const idx = tf.tensor1d(rows, 'int32');
  try {
    const old = cache.mask;
    const mask = new Uint8Array(rows.length * s);
    rows.forEach((r, i) => mask.set(old.subarray(r * s, (r + 1) * s), i * s));
    out.appendMask(mask, s);
    const { numKvHeads, headDim } = model.config;
    for (let layer = 0; layer < cache.numLayers; layer++) {
      tf.tidy(() => {
        const empty = tf.zeros([cache.batch, 0, numKvHeads, headDim]) as tf.Tensor4D;
        const { k, v } = cache.update(layer, empty, empty);
        out.update(layer, tf.gather(k, idx) as tf.Tensor4D, tf.gather(v, idx) as tf.Tensor4D);
      });
    }
  } catch (e) {
    out.dispose();
    throw e;
  } finally {
    idx.dispose();
  }
  cache.dispose();
  return out;
}
