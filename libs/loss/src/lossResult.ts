import * as tf from '@tensorflow/tfjs-core';

/**
 * Metrics of one loss call. Values are detached `tf.Scalar`s (or plain numbers
 * for counts known without a device read), so a loss can run inside `tf.tidy`
 * or a gradient function without a synchronous read. Whoever receives them
 * owns them: return them from `tf.tidy`, `keepMetrics` them inside a gradient
 * function, then `readMetrics` (which reads and disposes) once per step.
 */
export type Metrics = Record<string, tf.Scalar | number>;

/**
 * What every loss returns: the scalar to differentiate and its metrics. A type
 * alias, not an interface, so it is a `tf.TensorContainer` and can be returned
 * from `tf.tidy`.
 */
export type LossResult = {
  loss: tf.Scalar;
  metrics: Metrics;
};

/** `tf.keep` every tensor metric, so they survive the scope of `tf.grad` / `variableGrads`. */
export function keepMetrics<M extends Metrics>(metrics: M): M {
  for (const v of Object.values(metrics)) if (typeof v !== 'number') tf.keep(v);
  return metrics;
}

/** Read every metric to a number and dispose the tensors. */
export async function readMetrics(metrics: Metrics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(metrics)) {
    if (typeof v === 'number') out[k] = v;
    else {
      out[k] = (await v.data())[0]!;
      v.dispose();
    }
  }
  return out;
}

/** Synchronous `readMetrics` for cpu / wasm callers and tests. */
export function readMetricsSync(metrics: Metrics): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(metrics)) {
    if (typeof v === 'number') out[k] = v;
    else {
      out[k] = v.dataSync()[0]!;
      v.dispose();
    }
  }
  return out;
}

/** Dispose the tensors of a result that will not be read. */
export function disposeLossResult(result: LossResult): void {
  result.loss.dispose();
  for (const v of Object.values(result.metrics)) if (typeof v !== 'number') v.dispose();
}
