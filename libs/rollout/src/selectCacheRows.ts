import { RxrlUsageError } from '@rxrl/core/base';
import type { CausalLM, KVCache } from '@rxrl/model';

/**
 * A new cache holding only rows `rows` of `cache` (in that order, repeats
 * allowed), so decoding can drop finished rows instead of running them to the
 * end, or share one prompt's prefill across samples; `cache` is disposed.
 * Keys, values, mask and positions are copied exactly ({@link KVCache.select}).
 * `model` is unused and kept for callers written against the earlier signature.
 */
export function selectCacheRows(_model: CausalLM, cache: KVCache, rows: Int32Array): KVCache {
  for (const r of rows) {
    if (!(r >= 0 && r < cache.batch))
      throw new RxrlUsageError(
        `selectCacheRows: row ${r} outside the cache's batch ${cache.batch}`,
      );
  }
  const out = cache.select(rows);
  cache.dispose();
  return out;
}
