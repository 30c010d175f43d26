import * as tf from '@tensorflow/tfjs-core';

/** The k largest scaled logits of every row, their ids, and each row's log-normaliser, on the host. */
export interface RowCandidates {
  /** `[B, k]` row-major, descending within a row. */
  values: Float32Array;
  /** `[B, k]` vocab ids of `values`. */
  indices: Int32Array;
  /** `[B]` `logSumExp(logits / T)` over the whole row. */
  logNormalizers: Float32Array;
}

/**
 * Reduce `[B, V]` logits to their top-k on the device, so a step downloads
 * `B·k` values instead of `B·V` (for a 151,936-token vocabulary that is the
 * difference between ~19 MB and a few KB at batch 32). T = 0 means T = 1 (greedy).
 * Does not dispose `logits`.
 */
export async function topKOnDevice(
  logits: tf.Tensor2D,
  k: number,
  temperature: number,
): Promise<RowCandidates> {
  const [values, indices, lse] = tf.tidy(() => {
    const scaled = temperature > 0 && temperature !== 1 ? tf.div(logits, temperature) : logits;
    const top = tf.topk(scaled, k, true);
    return [top.values, top.indices, tf.logSumExp(scaled, 1)];
  });
  try {
    const [v, i, l] = await Promise.all([values.data(), indices.data(), lse.data()]);
    return {
      values: v as Float32Array,
      indices: i as Int32Array,
      logNormalizers: l as Float32Array,
    };
  } finally {
    tf.dispose([values, indices, lse]);
  }
}
