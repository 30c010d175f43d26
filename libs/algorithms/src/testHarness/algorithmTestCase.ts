import { AdamW } from '@rxrl/optimizer';
import { algorithmFixture, type AlgorithmUnderTest } from './algorithmFixture';
import { GradientProbe } from './gradientProbe';

/** How an {@link AlgorithmTestCase} runs. */
export interface AlgorithmTestOptions {
  /** training steps of the learning check (default 8; GRPO 10) */
  steps?: number;
  /** AdamW learning rate (default 1e-2 SFT, 5e-3 DPO and plugins, 3e-2 GRPO) */
  lr?: number;
  /** model init, data and sampling seed (default 1) */
  seed?: number;
  /** examples / pairs per step, or GRPO samples per step (default 8; GRPO 64) */
  batchSize?: number;
  /** the micro-batching check splits each batch into this many micro-batches (default 4) */
  microBatches?: number;
  /**
   * Tolerance of the micro-batching check: the largest difference between the
   * accumulated and the one-batch update, relative to the update's largest entry
   * (default 1e-4: float32 sums in another order differ by about 1e-6 relative)
   */
  tolerance?: number;
  /** the metric that must improve (default: `train/loss` falls; GRPO: `train/reward` rises) */
  progress?: { metric: string; direction: 'down' | 'up' };
}

/** What an {@link AlgorithmTestCase} measured. */
export interface AlgorithmTestReport {
  algorithm: string;
  /** the progress metric, and its value at each training step */
  metric: string;
  direction: 'down' | 'up';
  values: number[];
  /** `train/grad_norm` at each step (before clipping) */
  gradNorms: number[];
  /** the error that stopped training (a NaN / Inf loss or gradient), or null */
  failure: string | null;
  microBatching: {
    batchSize: number;
    microBatches: number;
    /** the probed step reported: the worse of step 1 (fresh weights) and the step after training */
    step: number;
    /** max |update(accumulated) − update(one batch)| over every weight */
    maxAbsDiff: number;
    /** max |update(one batch)| */
    maxAbsUpdate: number;
    /** maxAbsDiff / maxAbsUpdate */
    relativeDiff: number;
    lossOneBatch: number;
    lossAccumulated: number;
    tolerance: number;
  };
}

/** One micro-batching probe: a step's update in one piece and accumulated. */
interface MicroBatchProbe {
  step: number;
  maxAbsDiff: number;
  maxAbsUpdate: number;
  relativeDiff: number;
  lossOneBatch: number;
  lossAccumulated: number;
}

/** The largest difference between two updates, and the largest entry of the first. */
function compareUpdates(
  whole: Map<string, Float32Array>,
  split: Map<string, Float32Array>,
): Pick<MicroBatchProbe, 'maxAbsDiff' | 'maxAbsUpdate' | 'relativeDiff'> {
  let maxAbsDiff = split.size === whole.size ? 0 : Infinity;
  let maxAbsUpdate = 0;
  for (const [name, u] of whole) {
    const v = split.get(name);
    if (!v || v.length !== u.length) {
      maxAbsDiff = Infinity;
      continue;
    }
    for (let i = 0; i < u.length; i++) {
      maxAbsUpdate = Math.max(maxAbsUpdate, Math.abs(u[i]!));
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(u[i]! - v[i]!));
    }
  }
  return {
    maxAbsDiff,
    maxAbsUpdate,
    relativeDiff: maxAbsUpdate > 0 ? maxAbsDiff / maxAbsUpdate : maxAbsDiff,
  };
}

const DEFAULTS = {
  sft: { steps: 8, lr: 1e-2, batchSize: 8 },
  dpo: { steps: 8, lr: 5e-3, batchSize: 8 },
  grpo: { steps: 10, lr: 3e-2, batchSize: 64 },
  plugin: { steps: 8, lr: 5e-3, batchSize: 8 },
};

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * A test of a training algorithm — SFT, DPO or GRPO with the stock or a custom
 * objective, or a plugin — on a fresh tiny model (one layer, hidden 32, the built-in
 * tokenizer, one-digit addition). `AlgorithmTestCase.run` trains it and measures;
 * the `assert…` methods throw an Error that states the numbers, so any test runner
 * can use them:
 *
 * ```ts
 * const t = await AlgorithmTestCase.run({ algorithm: 'dpo', objective: myObjective });
 * t.assertLossFalls();
 * t.assertGradientsFinite();
 * t.assertMicroBatchingInvariant();
 * ```
 *
 * `steps` AdamW steps train (micro-batched), SFT / DPO / plugins on one fixed batch
 * (so its loss must fall), GRPO on fresh samples of a task a fresh model learns in a
 * few steps (answer with a digit; its reward must rise). Micro-batching is checked on
 * the fresh weights and again on the trained ones (where terms such as a KL to the
 * reference no longer vanish): a step's update (the gradients times the clip
 * coefficient, recorded by an optimizer that changes nothing) with the batch in one
 * piece and split into `microBatches` pieces with gradient accumulation; the report
 * keeps the worse.
 */
export class AlgorithmTestCase {
  private constructor(readonly report: AlgorithmTestReport) {}

  /** Builds the fixture, runs both checks, frees every tensor it made. */
  static async run(
    under: AlgorithmUnderTest,
    options: AlgorithmTestOptions = {},
  ): Promise<AlgorithmTestCase> {
    const kind = typeof under.algorithm === 'string' ? under.algorithm : 'plugin';
    const d = DEFAULTS[kind];
    const steps = options.steps ?? d.steps;
    const sizes = {
      seed: options.seed ?? 1,
      lr: options.lr ?? d.lr,
      batchSize: options.batchSize ?? d.batchSize,
    };
    const pieces = options.microBatches ?? 4;
    if (!(Number.isInteger(pieces) && pieces >= 2 && sizes.batchSize % pieces === 0))
      throw new Error(
        `AlgorithmTestCase: microBatches ${pieces} must be an integer >= 2 dividing the batch size ${sizes.batchSize}`,
      );
    const fixture = await algorithmFixture(under, sizes);
    try {
      const variables = Object.fromEntries(fixture.policy.model.trainableVariables());
      const progress = options.progress ?? fixture.progress;
      // one step twice on the current weights, with an optimizer that only records the update:
      // the batch in one piece, then `pieces` accumulated
      const probeStep = async (step: number, microBatchSize: number) => {
        const probe = new GradientProbe(variables);
        const t = await fixture.trainer(probe, microBatchSize);
        try {
          const r = await t.trainStep(step);
          if (probe.updates.length === 0)
            throw new Error(`${fixture.name}: the step made no optimizer update`);
          return { update: probe.updates[0]!, loss: r.metrics['train/loss'] ?? NaN };
        } finally {
          t.dispose();
          probe.dispose();
        }
      };
      const probePair = async (step: number): Promise<MicroBatchProbe> => {
        const whole = await probeStep(step, sizes.batchSize);
        const split = await probeStep(step, sizes.batchSize / pieces);
        return {
          step,
          ...compareUpdates(whole.update, split.update),
          lossOneBatch: whole.loss,
          lossAccumulated: split.loss,
        };
      };
      const probes: MicroBatchProbe[] = [];
      let failure: string | null = null;
      // at the start (a fresh model: GRPO's rewards still vary) ...
      try {
        probes.push(await probePair(1));
      } catch (err) {
        failure = `the micro-batching check's step: ${(err as Error).message}`;
      }

      const optimizer = new AdamW(variables, { lr: sizes.lr, weight_decay: 0 });
      const trainer = await fixture.trainer(optimizer, sizes.batchSize / pieces);
      const values: number[] = [];
      const gradNorms: number[] = [];
      try {
        for (let step = 1; step <= steps && failure === null; step++) {
          const r = await trainer.trainStep(step);
          values.push(r.metrics[progress.metric] ?? NaN);
          gradNorms.push(r.metrics['train/grad_norm'] ?? NaN);
        }
      } catch (err) {
        failure = (err as Error).message;
      } finally {
        trainer.dispose();
        optimizer.dispose();
      }
      // ... and on the trained weights (away from the start, where terms such as a KL to the
      // reference vanish); a run that failed has none to probe
      if (failure === null) {
        try {
          probes.push(await probePair(steps + 1));
        } catch (err) {
          failure = `the micro-batching check's step: ${(err as Error).message}`;
        }
      }
      // the worse of the probes whose update is not zero
      const live = probes.filter((p) => p.maxAbsUpdate > 0);
      const worst = (live.length > 0 ? live : probes).reduce<MicroBatchProbe | null>(
        (w, p) => (w === null || !(p.relativeDiff <= w.relativeDiff) ? p : w),
        null,
      );
      return new AlgorithmTestCase({
        algorithm: fixture.name,
        metric: progress.metric,
        direction: progress.direction,
        values,
        gradNorms,
        failure,
        microBatching: {
          batchSize: sizes.batchSize,
          microBatches: pieces,
          step: worst?.step ?? NaN,
          maxAbsDiff: worst?.maxAbsDiff ?? NaN,
          maxAbsUpdate: worst?.maxAbsUpdate ?? NaN,
          relativeDiff: worst?.relativeDiff ?? NaN,
          lossOneBatch: worst?.lossOneBatch ?? NaN,
          lossAccumulated: worst?.lossAccumulated ?? NaN,
          tolerance: options.tolerance ?? 1e-4,
        },
      });
    } finally {
      fixture.dispose();
    }
  }

  /**
   * The progress metric improved: the mean of the last quarter of the steps is
   * better than the mean of the first quarter by more than `minImprovement` (in the
   * metric's units; default 0).
   */
  assertLossFalls(minImprovement = 0): void {
    const r = this.report;
    if (r.failure !== null) throw new Error(`${r.algorithm}: training failed: ${r.failure}`);
    const w = Math.max(1, Math.floor(r.values.length / 4));
    const first = mean(r.values.slice(0, w));
    const last = mean(r.values.slice(-w));
    const gain = r.direction === 'down' ? first - last : last - first;
    if (!(gain > minImprovement))
      throw new Error(
        `${r.algorithm}: ${r.metric} did not ${r.direction === 'down' ? 'fall' : 'rise'}: ${first.toPrecision(5)} (mean of the first ${w} steps) -> ${last.toPrecision(5)} (last ${w}); needed a change of more than ${minImprovement} (all: ${r.values.map((v) => v.toPrecision(4)).join(', ')})`,
      );
  }

  /** Every step finished with a finite loss and a finite gradient norm. */
  assertGradientsFinite(): void {
    const r = this.report;
    if (r.failure !== null) throw new Error(`${r.algorithm}: training failed: ${r.failure}`);
    const bad = r.gradNorms.findIndex((g) => !Number.isFinite(g));
    if (bad >= 0)
      throw new Error(`${r.algorithm}: train/grad_norm is ${r.gradNorms[bad]} at step ${bad + 1}`);
    const badValue = r.values.findIndex((v) => !Number.isFinite(v));
    if (badValue >= 0)
      throw new Error(
        `${r.algorithm}: ${r.metric} is ${r.values[badValue]} at step ${badValue + 1}`,
      );
  }

  /**
   * Gradient accumulation over micro-batches gives the one-batch update: max
   * |Δ update| ≤ tolerance · max |update|, and the losses agree to the same tolerance.
   */
  assertMicroBatchingInvariant(): void {
    if (this.report.failure !== null)
      throw new Error(`${this.report.algorithm}: training failed: ${this.report.failure}`);
    const m = this.report.microBatching;
    if (!(m.maxAbsUpdate > 0))
      throw new Error(
        `${this.report.algorithm}: micro-batching check is empty: the probed steps' updates are all zero`,
      );
    const lossDiff = Math.abs(m.lossAccumulated - m.lossOneBatch);
    const lossScale = Math.max(1, Math.abs(m.lossOneBatch));
    if (!(m.relativeDiff <= m.tolerance) || !(lossDiff <= m.tolerance * lossScale))
      throw new Error(
        `${this.report.algorithm}: micro-batching changes step ${m.step}: ${m.microBatches} micro-batches of ${m.batchSize / m.microBatches} vs one batch of ${m.batchSize}: max |Δ update| ${m.maxAbsDiff.toExponential(3)} = ${m.relativeDiff.toExponential(3)} of max |update| ${m.maxAbsUpdate.toExponential(3)}; loss ${m.lossAccumulated} vs ${m.lossOneBatch} (tolerance ${m.tolerance} relative)`,
      );
  }

  /** All three checks. */
  assertTrains(minImprovement = 0): void {
    this.assertGradientsFinite();
    this.assertMicroBatchingInvariant();
    this.assertLossFalls(minImprovement);
  }
}
