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
}

const defaultReduce = (key: string): MetricReduce =>
  key === 'weight' || key.endsWith('/weight') ? 'last' : 'sum';

/** Options of {@link PendingUpdate.accumulate}: one loss over one global batch's micro-batches. */
export type AccumulateOptions<M> = Pick<
  AccumulatedStepOptions<M>,
  'model' | 'optimizer' | 'microBatches' | 'loss' | 'reduce'
> & {
  /**
   * Frees what `loss` reads (e.g. a teacher's logits) once the update is applied or
   * dropped: a non-finite update re-runs `loss` to say where it started.
   */
  release?: () => void;
};

/** Options of {@link PendingUpdate.apply}: the clip and the update. */
export type ApplyUpdateOptions = Pick<
  AccumulatedStepOptions<unknown>,
  'model' | 'optimizer' | 'maxGradNorm' | 'gradNormPerLayerEvery' | 'locateNonFinite'
>;

/**
 * The gradients of one optimizer step while they are summed: a loss stage
 * {@link accumulate}s its micro-batches (forward and backward, like
 * `loss.backward()`), the optimizer stage {@link apply}s the update (one
 * global-norm clip, one step, like `optimizer.step(); optimizer.zero_grad()`).
 * It is how `loss.*` and `optimizer.step` share a step as two graph stages;
 * {@link accumulatedStep} is the two calls in a row.
 */
export class PendingUpdate {
  /**
   * Wall time (ms, summed over the instance's life): forward + loss + backward of
   * every micro-batch accumulated, and the norm, clip and optimizer update of every
   * applied update. The first part ends on the loss metrics read back to the host;
   * the CPU backends run every op when it is called, so each part's time is its own.
   */
  readonly timings = { lossBackwardMs: 0, optimizerMs: 0 };
  private readonly acc = new GradientAccumulator();
  private metrics: Record<string, number> = {};
  /** each accumulated loss, so a non-finite update can re-run its forward passes */
  private readonly losses: {
    microBatches: readonly unknown[];
    loss: (mb: unknown, i: number) => LossResult;
  }[] = [];
  private readonly releases: (() => void)[] = [];

  /** whether gradients wait for an update */
  get pending(): boolean {
    return this.losses.length > 0;
  }

  /** the loss metrics accumulated since the last update */
  get lossMetrics(): Readonly<Record<string, number>> {
    return this.metrics;
  }

  /**
   * Forward and backward over each micro-batch, gradients summed by name;
   * returns the loss metrics combined over the micro-batches (they are also
   * what {@link apply} returns). On an error the pending gradients are dropped.
   */
  accumulate<M>(options: AccumulateOptions<M>): Record<string, number> {
    const { model, optimizer } = options;
    const reduce = options.reduce ?? defaultReduce;
    const out: Record<string, number> = {};
    if (options.release) this.releases.push(options.release);
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
        this.acc.add(Object.fromEntries(grads), { dispose: true });
        for (const [k, v] of Object.entries(readMetricsSync(metrics))) {
          out[k] = reduce(k) === 'sum' ? (out[k] ?? 0) + v : v;
        }
      });
    } catch (err) {
      this.reset();
      throw err;
    }
    this.timings.lossBackwardMs += performance.now() - t0;
    Object.assign(this.metrics, out);
    this.losses.push({
      microBatches: options.microBatches,
      loss: options.loss as (mb: unknown, i: number) => LossResult,
    });
    return out;
  }

  /**
   * One global-norm clip and one optimizer update with the summed gradients.
   * Returns the accumulated loss metrics plus `grad_norm` (before clipping) and
   * `lr` (the rate this update used). A NaN/Inf `loss` or `grad_norm` throws
   * NonFiniteError before the update: weights and optimizer state stay as they were.
   * Either way nothing is pending afterwards.
   */
  apply(options: ApplyUpdateOptions): Record<string, number> {
    const { model, optimizer, maxGradNorm } = options;
    const out = this.metrics;
    const t0 = performance.now();
    try {
      const total = this.acc.take();
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
          for (const l of this.losses) {
            const origin = locateNonFinite(model, l.microBatches, l.loss, update);
            if (origin === null) continue;
            located = bad.withOrigin(origin.message);
            break;
          }
        }
        tf.dispose(Object.values(update));
        throw located;
      }
      const lr = optimizer.lr;
      optimizer.step(update, { gradScale });
      tf.dispose(Object.values(update));
      this.timings.optimizerMs += performance.now() - t0;
      out['grad_norm'] = gradNorm;
      out['lr'] = lr;
      return out;
    } finally {
      this.reset();
    }
  }

  /** Drops pending gradients and metrics, and frees what the losses read. */
  reset(): void {
    this.acc.reset();
    this.metrics = {};
    this.losses.length = 0;
    for (const release of this.releases.splice(0)) release();
  }
}

/**
 * One optimizer step over a global batch: forward/backward per micro-batch,
 * gradients summed by name, one global-norm clip, one optimizer update.
 * Returns the loss metrics combined over micro-batches plus `grad_norm` (before
 * clipping) and `lr` (the rate this update used). A NaN/Inf `loss` or `grad_norm`
 * throws NonFiniteError before the update: weights and optimizer state stay as they were.
 */
export function accumulatedStep<M>(options: AccumulatedStepOptions<M>): Record<string, number> {
  const update = new PendingUpdate();
  update.accumulate(options);
  return update.apply(options);
}
