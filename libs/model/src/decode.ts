import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from './causalLM';
import { KVCache, type KVCacheOptions } from './kvCache';

/**
 * Run the prompts through the model once, filling a new KV cache.
 * `inputIds`/`attentionMask` are `[B, T]`, left-padded (mask 0 on the padding).
 * Returns the cache (caller disposes it) and the next-token logits `[B, V]`
 * at the last position of every row. `options.max_cache_len` preallocates the
 * cache for prompt + new tokens (default: the prompt length, doubled as needed).
 */
export function prefill(
  model: CausalLM,
  inputIds: tf.Tensor2D,
  attentionMask?: tf.Tensor2D | null,
  options: KVCacheOptions = {},
): { cache: KVCache; logits: tf.Tensor2D } {
  const [b, t] = inputIds.shape;
  const cache = new KVCache(model.config.numLayers, b, {
    max_cache_len: Math.max(t, options.max_cache_len ?? 0),
  });
  try {
    const logits = tf.tidy(() => {
      const last = model.logits(inputIds, attentionMask, cache, { lastOnly: true });
      return tf.reshape(last, [b, model.config.vocabSize]) as tf.Tensor2D;
    });
    return { cache, logits };
  } catch (e) {
    cache.dispose();
    throw e;
  }
}

/**
 * Feed one new token per row (`tokens[b]`) through the cached model and return
 * the next-token logits `[B, V]`. The token is appended to the cache as real
 * (mask 1); its position is one past the row's last real token.
 */
export function generateStep(
  model: CausalLM,
  cache: KVCache,
  tokens: Int32Array | number[],
): tf.Tensor2D {
  if (tokens.length !== cache.batch) {
    throw new RangeError(
      `generateStep: got ${tokens.length} tokens for a cache of batch ${cache.batch}`,
    );
  }
  return tf.tidy(() => {
    const ids = tf.tensor2d(Int32Array.from(tokens), [cache.batch, 1], 'int32');
    return tf.reshape(model.logits(ids, null, cache), [
      cache.batch,
      model.config.vocabSize,
    ]) as tf.Tensor2D;
  });
}
