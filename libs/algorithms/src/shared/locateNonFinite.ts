import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from '@rxrl/model';
import { disposeLossResult, readMetricsSync, type LossResult } from '@rxrl/loss';
import { layerGradNorms } from '@rxrl/optimizer';

/** Where a non-finite loss or gradient first appeared. */
export interface NonFiniteOrigin {
  /** the micro-batch whose forward pass produced it; null when only the backward pass did */
  microBatch: number | null;
  /** the first forward site (a Hugging Face module name, see `CausalLM.withProbe`), or `loss` */
  site: string;
  /** for `loss`: the loss terms (metrics) that are non-finite */
  terms?: string[];
  /** for the backward pass: the layer groups whose gradient is non-finite */
  gradients?: string[];
  /** one line for the log */
  message: string;
}

const nonFiniteCount = (x: tf.Tensor): number =>
  tf.tidy(() => tf.sum(tf.cast(tf.logicalNot(tf.isFinite(x)), 'int32')).dataSync()[0]!);

/**
 * Re-run each micro-batch's forward pass (no gradient) with a finite check at
 * every named site of the model, and name the first site that holds NaN or ±Inf;
 * when every activation is finite, the loss terms that are not; when the whole
 * forward is finite, the layer groups whose gradient is not (`grads`, the summed
 * gradients of the failed update). Costs one forward per micro-batch with a
 * device sync per site, paid only when `policy.on_nonfinite` trips.
 */
export function locateNonFinite<M>(
  model: CausalLM,
  microBatches: readonly M[],
  loss: (microBatch: M, index: number) => LossResult,
  grads?: Record<string, tf.Tensor>,
): NonFiniteOrigin | null {
  for (let i = 0; i < microBatches.length; i++) {
    let first: { site: string; count: number; size: number } | null = null;
    const result = model.withProbe(
      (site, x) => {
        if (first !== null) return;
        const count = nonFiniteCount(x);
        if (count > 0) first = { site, count, size: x.size };
      },
      () => tf.tidy(() => loss(microBatches[i]!, i)),
    );
    const metrics = readMetricsSync(result.metrics);
    const lossValue = result.loss.dataSync()[0]!;
    result.metrics = {};
    disposeLossResult(result);
    const found = first as { site: string; count: number; size: number } | null;
    if (found !== null) {
      return {
        microBatch: i,
        site: found.site,
        message: `first non-finite value: micro-batch ${i}, forward, at ${found.site} (${found.count} of ${found.size} values)`,
      };
    }
    const terms = Object.entries(metrics)
      .filter(([, v]) => !Number.isFinite(v))
      .map(([k]) => k);
    if (!Number.isFinite(lossValue) || terms.length > 0) {
      return {
        microBatch: i,
        site: 'loss',
        terms,
        message: `first non-finite value: micro-batch ${i}, the model's activations and log-probs are finite; the loss is not (${terms.join(', ') || 'loss'})`,
      };
    }
  }
  if (grads !== undefined) {
    const bad = Object.entries(layerGradNorms(grads))
      .filter(([, v]) => !Number.isFinite(v))
      .map(([k]) => k);
    if (bad.length > 0)
      return {
        microBatch: null,
        site: 'backward',
        gradients: bad,
        message: `the forward pass and the loss are finite; the backward pass is not: non-finite gradients in ${bad.join(', ')}`,
      };
  }
  return null;
}
