import * as tf from '@tensorflow/tfjs-core';
import type { Tokenizer } from '@rxrl/core/base';
import {
  dpoLoss,
  readMetricsSync,
  type DpoInputs,
  type DpoLossOptionsInput,
  type LossResult,
} from '@rxrl/loss';
import type { CausalLM } from '@rxrl/model';
import type { NamedOptimizer } from '@rxrl/optimizer';
import type { StepResult, TrainingAlgorithm } from '@rxrl/pipeline';
import { accumulatedStep } from '../shared/accumulatedStep';
import { EpochSampler } from '../shared/epochSampler';
import { lmBatchTensors } from '../shared/lmBatch';
import { microBatches } from '../shared/microBatches';
import type { PolicyOptions } from '../shared/policyOptions';
import { loadPolicyState, savePolicyState } from '../shared/policyState';
import type { PreferencePair } from './dpoExamples';
import { pairBatchArrays, pairTokenLogps, splitPairs } from './pairBatch';

/** What a custom DPO objective sees for one micro-batch. */
export interface DpoLossContext {
  /** the optimizer step (0 in validation before training) */
  step: number;
  /** the micro-batch's pairs, row i of every tensor is pair i */
  pairs: readonly PreferencePair[];
  /** metrics of the previous training step (for controllers such as an adaptive β) */
  previous: Record<string, number>;
  /** true in validation */
  validation: boolean;
  /**
   * KTO's reference point z₀ = max(0, mean over the global batch of log π − log π_ref on
   * mismatched (prompt, completion) pairs), set when the trainer has `mismatchedKl`
   */
  klReferencePoint?: number;
}

/**
 * The objective of one micro-batch: by default `dpoLoss(options, inputs)`.
 * Replace it to change the loss (a reward bonus, extra terms via composeLosses,
 * a scheduled β) without touching the loop. Metrics come back prefixed
 * `train/` or `validation/`; `reward_gap` is also reported as `reward_margin`.
 */
export type DpoObjective = (inputs: DpoInputs, ctx: DpoLossContext) => LossResult;

/** What a {@link DpoTrainer} works on. */
export interface DpoTrainerArgs {
  /** the policy being trained */
  model: CausalLM;
  /** frozen reference policy (`model.referencePolicy()` before training: a frozen copy, or the base with LoRA adapters off); null with `reference_free` */
  reference: CausalLM | null;
  tokenizer: Tokenizer;
  optimizer: NamedOptimizer;
  policy: Pick<
    PolicyOptions,
    'train_global_batch_size' | 'train_micro_batch_size' | 'max_grad_norm'
  >;
  /** validation batch sizes */
  val: { val_batches: number | null; val_global_batch_size: number; val_micro_batch_size: number };
  /** dpoLoss options (β, weights, loss_type, ...) for the default objective */
  loss: DpoLossOptionsInput;
  /** replace the default objective */
  objective?: DpoObjective;
  /** compute KTO's reference point z₀ each step from mismatched pairs (needs the reference model) */
  mismatchedKl?: boolean;
  trainPairs: PreferencePair[];
  valPairs: PreferencePair[];
  seed: number;
  shuffle?: boolean;
}

function prefixed(prefix: string, m: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) out[prefix + k] = v;
  if ('reward_gap' in m) out[prefix + 'reward_margin'] = m['reward_gap']!;
  return out;
}

function completionTokens(pairs: readonly PreferencePair[]): number {
  return pairs.reduce((n, p) => n + p.weight * p.chosen.length, 0);
}

/**
 * DPO as the pipeline runner drives it. Per step: reference log-probs of the
 * whole global batch computed once, without gradients (frozen model); then per
 * micro-batch the policy's log-probs and the objective normalised by the global
 * pair and chosen-token counts, gradients accumulated, one clipped update.
 */
export class DpoTrainer implements TrainingAlgorithm<number[]> {
  readonly sampler: EpochSampler;
  private readonly pad: number;
  private previous: Record<string, number> = {};

  constructor(private readonly args: DpoTrainerArgs) {
    this.sampler = new EpochSampler(
      args.trainPairs.length,
      args.policy.train_global_batch_size,
      args.seed,
      args.shuffle ?? true,
    );
    this.pad = args.tokenizer.padTokenId ?? args.tokenizer.eosTokenId ?? 0;
    if (args.reference && args.reference.trainableVariables().size > 0) {
      throw new Error(
        'DpoTrainer: the reference model must be frozen (use model.referencePolicy())',
      );
    }
  }

  private objective(inputs: DpoInputs, ctx: DpoLossContext): LossResult {
    return this.args.objective ? this.args.objective(inputs, ctx) : dpoLoss(this.args.loss, inputs);
  }

  /**
   * KTO's z₀ over `pairs` (TRL's KL dataset): prompt i with the completions of pair i + 1
   * (cyclically), both sides, scored by policy and reference without gradients; the
   * weighted mean of Σ_t (log π − log π_ref) per completion, clamped at 0.
   */
  private klReferencePoint(pairs: readonly PreferencePair[]): number | undefined {
    const ref = this.args.reference;
    if (!this.args.mismatchedKl || !ref || pairs.length === 0) return undefined;
    const n = pairs.length;
    const shifted = pairs.map((p, i) => ({
      ...p,
      chosen: pairs[(i + 1) % n]!.chosen,
      rejected: pairs[(i + 1) % n]!.rejected,
    }));
    let sum = 0;
    let count = 0;
    for (const mb of microBatches(shifted, this.args.policy.train_micro_batch_size)) {
      const a = pairBatchArrays(mb, this.pad);
      const perRow = tf.tidy(() => {
        const mask = lmBatchTensors(a).tokenMask;
        const diff = tf.sub(pairTokenLogps(this.args.model, a), pairTokenLogps(ref, a));
        return tf.sum(tf.mul(diff, mask), -1).dataSync();
      });
      perRow.forEach((v, r) => {
        const w = mb[r % mb.length]!.weight;
        sum += w * v;
        count += w;
      });
    }
    return count > 0 ? Math.max(0, sum / count) : 0;
  }

  /** Reference per-token log-probs of each micro-batch, computed once per batch (kept; the caller disposes). */
  private referenceLogps(mbs: readonly (readonly PreferencePair[])[]): (tf.Tensor2D | null)[] {
    const ref = this.args.reference;
    return mbs.map((mb) => (ref ? pairTokenLogps(ref, pairBatchArrays(mb, this.pad)) : null));
  }

  /** The objective of one micro-batch at the current policy (inside a gradient tape or tf.tidy). */
  private microBatchLoss(
    mb: readonly PreferencePair[],
    refLogps: tf.Tensor2D | null,
    globalPairs: number,
    globalChosenToks: number,
    ctx: DpoLossContext,
  ): LossResult {
    const a = pairBatchArrays(mb, this.pad);
    const t = lmBatchTensors(a);
    const logps = this.args.model.tokenLogProbs(t.ids, t.attention, t.targets);
    const pol = splitPairs(logps);
    const mask = splitPairs(t.tokenMask);
    const ref = refLogps ? splitPairs(refLogps) : null;
    const sampleMask = tf.tensor1d(mb.map((p) => p.weight));
    // the graph's per-pair columns: bonuses on each side's implicit reward, margins
    const bonusNames = Object.keys(mb[0]?.bonuses ?? {});
    const marginNames = Object.keys(mb[0]?.margins ?? {});
    const bonuses = Object.fromEntries(
      bonusNames.map((n) => [
        n,
        {
          chosen: tf.tensor1d(mb.map((p) => p.bonuses?.[n]?.chosen ?? 0)),
          rejected: tf.tensor1d(mb.map((p) => p.bonuses?.[n]?.rejected ?? 0)),
        },
      ]),
    );
    const margins = Object.fromEntries(
      marginNames.map((n) => [n, tf.tensor1d(mb.map((p) => p.margins?.[n] ?? 0))]),
    );
    return this.objective(
      {
        ...(bonusNames.length > 0 ? { bonuses } : {}),
        ...(marginNames.length > 0 ? { margins } : {}),
        policyChosenLogps: pol.chosen,
        policyRejectedLogps: pol.rejected,
        referenceChosenLogps: ref?.chosen,
        referenceRejectedLogps: ref?.rejected,
        chosenMask: mask.chosen,
        rejectedMask: mask.rejected,
        sampleMask,
        globalValidPairs: globalPairs,
        globalChosenToks,
      },
      ctx,
    );
  }

  /** One optimizer step over the pairs `indices`; `train/*` metrics are those of the policy before the update. */
  trainStep(indices: number[], step: number): StepResult {
    const started = performance.now();
    const batch = indices.map((i) => this.args.trainPairs[i]!);
    const mbs = microBatches(batch, this.args.policy.train_micro_batch_size);
    const refs = this.referenceLogps(mbs);
    const globalPairs = batch.reduce((n, p) => n + p.weight, 0);
    const globalToks = completionTokens(batch);
    const klReferencePoint = this.klReferencePoint(batch);
    try {
      const m = accumulatedStep({
        model: this.args.model,
        optimizer: this.args.optimizer,
        microBatches: mbs,
        loss: (mb, i) =>
          this.microBatchLoss(mb, refs[i]!, globalPairs, globalToks, {
            step,
            pairs: mb,
            previous: this.previous,
            validation: false,
            klReferencePoint,
          }),
        maxGradNorm: this.args.policy.max_grad_norm,
      });
      const seconds = (performance.now() - started) / 1000;
      const tokens = batch.reduce(
        (n, p) => n + 2 * p.prompt.length + p.chosen.length + p.rejected.length,
        0,
      );
      const metrics = {
        ...prefixed('train/', m),
        'performance/tokens_per_sec': tokens / seconds,
        'timing/train_step_s': seconds,
      };
      this.previous = metrics;
      return { metrics };
    } finally {
      tf.dispose(refs.filter((r): r is tf.Tensor2D => r !== null));
    }
  }

  /** The objective's metrics on held-out pairs (`validation/*`), normalised over all of them. */
  validate(step: number): StepResult {
    const { val } = this.args;
    const n =
      val.val_batches === null
        ? this.args.valPairs.length
        : Math.min(this.args.valPairs.length, val.val_batches * val.val_global_batch_size);
    const pairs = this.args.valPairs.slice(0, n);
    const globalPairs = pairs.reduce((k, p) => k + p.weight, 0);
    const globalToks = completionTokens(pairs);
    const klReferencePoint = this.klReferencePoint(pairs);
    const sums: Record<string, number> = {};
    for (const mb of microBatches(pairs, val.val_micro_batch_size)) {
      const [ref] = this.referenceLogps([mb]);
      const m = readMetricsSync(
        tf.tidy(
          () =>
            this.microBatchLoss(mb, ref ?? null, globalPairs, globalToks, {
              step,
              pairs: mb,
              previous: this.previous,
              validation: true,
              klReferencePoint,
            }).metrics,
        ),
      );
      ref?.dispose();
      for (const [k, v] of Object.entries(m))
        sums[k] = k.endsWith('weight') ? v : (sums[k] ?? 0) + v;
    }
    return { metrics: prefixed('validation/', sums) };
  }

  /** Policy weights and optimizer state (the reference is the starting policy and never changes). */
  saveState() {
    return savePolicyState(this.args.model, this.args.optimizer);
  }

  loadState(files: Record<string, Uint8Array>): void {
    loadPolicyState(this.args.model, this.args.optimizer, files);
  }
}
