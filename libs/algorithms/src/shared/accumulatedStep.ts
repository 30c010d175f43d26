import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from '@rxrl/model';
import { keepMetrics, readMetricsSync, type LossResult, type Metrics } from '@rxrl/loss';
import {
  clipCoefficient,
  globalNorm,
  GradientAccumulator,
  layerGradNorms,
  type NamedOptimizer,
} from '@rxrl/optimizer';
import { NonFiniteError } from '@rxrl/pipeline';
import { locateNonFinite } from './locateNonFinite';

/** How a loss metric combines over micro-batches. */
export type MetricReduce = 'sum' | 'last';

/** Options of {@link accumulatedStep}. */
export interface AccumulatedStepOptions<M> {
  /** the model whose trainable variables get the update (never a reference model) */
  model: CausalLM;
  optimizer: NamedOptimizer;
  /** the global batch, already split into micro-batches */
  microBatches: readonly M[];
  /**
   * Loss of one micro-batch, normalised by global-batch counts so that the
   * micro-batch losses add up to the full-batch loss (DESIGN.md). Runs inside
   * the gradient tape: build tensors here (they are freed by the tape).
   */
  loss: (microBatch: M, index: number) => LossResult;
  /** global gradient-norm clip; null: none */
  maxGradNorm: number | null;
  /**
   * How each metric combines over micro-batches. Default `sum`: globally
   * normalised means and counts add up to the batch value; `…/weight`
   * coefficients (composeLosses) are the same in every micro-batch and keep the last.
   */
  reduce?: (key: string) => MetricReduce;
  /**
   * Every this many optimizer updates (counting from the first, update 0), also
   * return the gradient norm of each layer group as `grad_norm/<group>`
   * (`layerGradNorms`, before clipping); 0 or absent: never.
   */
  gradNormPerLayerEvery?: number;
  /**
   * On a non-finite loss or gradient, re-run the forward passes with a finite check
   * at every model site and add where it first appeared to the NonFiniteError
   * (`locateNonFinite`); default true.
   */
  locateNonFinite?: boolean;
  /** wall time of the step's parts, added to (ms): a trainer reports them as `timing/…` metrics */
  timings?: StepTimings;
}

/**
 * Where an optimizer step's wall time went (ms, accumulated over calls):
 * forward, loss and backward of every micro-batch, then the gradient norm,
 * clip and optimizer update. The first part ends on the loss metrics read
 * back to the host; the CPU backends run every op when it is called, so the
 * update's time is its own (a GPU backend could queue work past the timer).
 */
export interface StepTimings {
  lossBackwardMs: number;
  optimizerMs: number;
}

const defaultReduce = (key: string): MetricReduce =>
  key === 'weight' || key.endsWith('/weight') ? 'last' : 'sum';

/**
 * One optimizer step over a global batch: forward/backward per micro-batch,
 * gradients summed by name, one global-norm clip, one optimizer update.
 * Returns the loss metrics combined over micro-batches plus `grad_norm` (before
 * clipping) and `lr` (the rate this update used). A NaN/Inf `loss` or `grad_norm`
 * throws NonFiniteError before the update: weights and optimizer state stay as they were.
 */
export function accumulatedStep<M>(options: AccumulatedStepOptions<M>): Record<string, number> {
  const { model, optimizer, maxGradNorm } = options;
  const reduce = options.reduce ?? defaultReduce;
  const acc = new GradientAccumulator();
  const out: Record<string, number> = {};
  const t0 = performance.now();
  try {
    options.microBatches.forEach((mb, i) => {
      let metrics: Metrics = {};
      // LoRA dropout masks depend on the update's number and the micro-batch, so a resumed run draws the same ones
      const dropoutSeed = optimizer.stepCount * 4096 + i;
      const { value, grads } = model.variableGrads(
        () => {
          const r = options.loss(mb, i);
          metrics = keepMetrics(r.metrics);
          return r.loss;
        },
        { dropoutSeed },
      );
      value.dispose();
      acc.add(Object.fromEntries(grads), { dispose: true });
      for (const [k, v] of Object.entries(readMetricsSync(metrics))) {
        out[k] = reduce(k) === 'sum' ? (out[k] ?? 0) + v : v;
      }
    });
    const t1 = performance.now();
    if (options.timings) options.timings.lossBackwardMs += t1 - t0;
    const total = acc.take();
    const norm = globalNorm(total);
    const gradNorm = norm.dataSync()[0]!;
    norm.dispose();
    // clip_grad_norm_'s coefficient, applied by the optimizer instead of through a scaled copy
    const gradScale = maxGradNorm !== null ? clipCoefficient(gradNorm, maxGradNorm) : 1;
    const update = total;
    // a NaN/Inf loss or gradient must never reach the weights or the Adam moments
    const every = options.gradNormPerLayerEvery ?? 0;
    if (every > 0 && optimizer.stepCount % every === 0)
      for (const [k, v] of Object.entries(layerGradNorms(total))) out[`grad_norm/${k}`] = v;
    const lossValue = out['loss'];
    const bad =
      lossValue !== undefined && !Number.isFinite(lossValue)
        ? new NonFiniteError('loss', lossValue)
        : !Number.isFinite(gradNorm)
          ? new NonFiniteError('grad_norm', gradNorm)
          : null;
    if (bad !== null) {
      // name the first op / layer that produced it (a forward re-run per micro-batch, only now)
      let located = bad;
      if (options.locateNonFinite ?? true) {
        const origin = locateNonFinite(model, options.microBatches, options.loss, update);
        if (origin !== null) located = bad.withOrigin(origin.message);
      }
      tf.dispose(Object.values(update));
      throw located;
    }
    const lr = optimizer.lr;
    optimizer.step(update, { gradScale });
    tf.dispose(Object.values(update));
    if (options.timings) options.timings.optimizerMs += performance.now() - t1;
    out['grad_norm'] = gradNorm;
    out['lr'] = lr;
    return out;
  } finally {
    acc.reset();
  }
}
