import * as tf from '@tensorflow/tfjs-core';
import { logSumExpLastAxis } from '@rxrl/core';

/** The k largest scaled logits of every row, their ids, and each row's log-normaliser, on the host. */
export interface RowCandidates {
  /** `[B, k]` row-major, descending within a row. */
  values: Float32Array;
  /** `[B, k]` vocab ids of `values`. */
  indices: Int32Array;
  /** `[B]` `logSumExp(logits / T)` over the whole row. */
  logNormalizers: Float32Array;
  /**
   * With `minP`: `[B]` total weight of the tokens min-p keeps, in units of the
   * top token's weight (`Σ exp(x − max)` over `exp(x − max) ≥ minP`).
   */
  minPMass?: Float32Array;
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
  minP?: number,
): Promise<RowCandidates> {
  const [values, indices, lse, mass] = tf.tidy((): tf.Tensor[] => {
    const scaled = temperature > 0 && temperature !== 1 ? tf.div(logits, temperature) : logits;
    const top = tf.topk(scaled, k, true);
    let kept: tf.Tensor | null = null;
    if (minP !== undefined) {
      const w = tf.exp(tf.sub(scaled, tf.max(scaled, 1, true)));
      kept = tf.sum(minP > 0 ? tf.where(tf.greaterEqual(w, minP), w, tf.zerosLike(w)) : w, 1);
    }
    // the native backend's one-pass log-sum-exp kernel (tf.logSumExp is five passes)
    const lse = tf.reshape(logSumExpLastAxis(scaled), [logits.shape[0]]) as tf.Tensor1D;
    const out: tf.Tensor[] = [top.values, top.indices, lse];
    if (kept !== null) out.push(kept);
    return out;
  });
  try {
    const [v, i, l, m] = await Promise.all([
      values.data(),
      indices.data(),
      lse.data(),
      mass?.data() ?? null,
    ]);
    return {
      values: v as Float32Array,
      indices: i as Int32Array,
      logNormalizers: l as Float32Array,
      ...(m !== null ? { minPMass: m as Float32Array } : {}),
    };
  } finally {
    tf.dispose([values, indices, lse, ...(mass !== undefined ? [mass] : [])]);
  }
}
