import * as tf from '@tensorflow/tfjs-core';
import type { Tokenizer } from '@rxrl/core/base';
import { dftLoss, nllLoss, readMetricsSync, type LossResult, type NllInputs } from '@rxrl/loss';
import type { CausalLM } from '@rxrl/model';
import type { NamedOptimizer } from '@rxrl/optimizer';
import type { StepResult, TrainingAlgorithm } from '@rxrl/pipeline';
import { loadPolicyState, savePolicyState } from '../shared/policyState';
import { accumulatedStep } from '../shared/accumulatedStep';
import { EpochSampler } from '../shared/epochSampler';
import { greedyDecode } from '../shared/greedyDecode';
import { countLossTokens, lmBatchArrays, lmBatchTensors } from '../shared/lmBatch';
import { microBatches } from '../shared/microBatches';
import type { PolicyOptions } from '../shared/policyOptions';
import type { SftExample } from './sftExamples';
import type { SftOptions } from './sftOptions';

/** What a custom SFT objective sees besides the micro-batch's tensors. */
export interface SftLossContext {
  /** the training step (from 1) */
  step: number;
  /** the micro-batch's examples, row i of every tensor is example i */
  examples: readonly SftExample[];
}

/**
 * The training loss of one SFT micro-batch: by default the token NLL (`nllLoss`, or
 * `dftLoss` with `sft.loss_type: dft`). Replace it (a label-smoothed NLL, an extra
 * term through composeLosses) without forking the trainer; `loss` is normalised by
 * `inputs.globalValidToks`, as the default is. `validation/loss` stays the NLL.
 */
export type SftObjective = (inputs: NllInputs, ctx: SftLossContext) => LossResult;

/** What an {@link SftTrainer} works on. */
export interface SftTrainerArgs {
  /** replace the default NLL / DFT training loss */
  objective?: SftObjective;
  model: CausalLM;
  tokenizer: Tokenizer;
  optimizer: NamedOptimizer;
  policy: Pick<
    PolicyOptions,
    'train_global_batch_size' | 'train_micro_batch_size' | 'max_grad_norm'
  >;
  sft: Pick<
    SftOptions,
    'val_batches' | 'val_global_batch_size' | 'val_micro_batch_size' | 'val_generation'
  > &
    Partial<Pick<SftOptions, 'loss_type'>>;
  train: SftExample[];
  val: SftExample[];
  /** seed of the epoch shuffles */
  seed: number;
  /** reshuffle every epoch */
  shuffle?: boolean;
}

/**
 * Sum of the token-level NLL (or, with `lossType` dft, the probability-weighted NLL) of
 * `seqs` over `globalTokens` valid tokens (micro-batch of a global batch).
 */
export function sftMicroBatchLoss(
  model: CausalLM,
  seqs: readonly SftExample[],
  globalTokens: number,
  padTokenId: number,
  lossType: 'nll' | 'dft' | SftObjective = 'nll',
  step = 0,
) {
  const a = lmBatchArrays(seqs, padTokenId);
  const t = lmBatchTensors(a);
  const sampleMask = tf.tensor1d(seqs.map((s) => s.weight));
  const logprobs = model.tokenLogProbs(t.ids, t.attention, t.targets);
  const inputs = { logprobs, tokenMask: t.tokenMask, sampleMask, globalValidToks: globalTokens };
  const r =
    typeof lossType === 'function'
      ? lossType(inputs, { step, examples: seqs })
      : (lossType === 'dft' ? dftLoss : nllLoss)(inputs);
  tf.dispose([t.ids, t.attention, t.targets, t.tokenMask, sampleMask, logprobs]);
  return r;
}

function weightedTokens(seqs: readonly SftExample[]): number {
  return seqs.reduce((n, s) => n + s.weight * countLossTokens([s]), 0);
}

/**
 * Supervised fine-tuning as the pipeline runner drives it: `trainStep(indices, step)`
 * (one optimizer step over a global batch, micro-batched with gradient
 * accumulation; loss normalised by the global batch's valid tokens, NeMo RL's
 * NLLLoss) and `validate(step)` (held-out token NLL and greedy exact-match accuracy).
 */
export class SftTrainer implements TrainingAlgorithm<number[]> {
  /** batches of training-example indices, epoch by epoch (the runner's data source) */
  readonly sampler: EpochSampler;
  private readonly pad: number;

  constructor(private readonly args: SftTrainerArgs) {
    this.sampler = new EpochSampler(
      args.train.length,
      args.policy.train_global_batch_size,
      args.seed,
      args.shuffle ?? true,
    );
    this.pad = args.tokenizer.padTokenId ?? args.tokenizer.eosTokenId ?? 0;
  }

  /** One optimizer step; metrics are `train/*` and `performance/tokens_per_sec`. */
  trainStep(indices: number[], step: number): StepResult {
    const { model, optimizer, policy } = this.args;
    const started = performance.now();
    const batch = indices.map((i) => this.args.train[i]!);
    const globalTokens = weightedTokens(batch);
    const m = accumulatedStep({
      model,
      optimizer,
      microBatches: microBatches(batch, policy.train_micro_batch_size),
      loss: (mb) =>
        sftMicroBatchLoss(
          model,
          mb,
          globalTokens,
          this.pad,
          this.args.objective ?? this.args.sft.loss_type ?? 'nll',
          step,
        ),
      maxGradNorm: policy.max_grad_norm,
    });
    const seconds = (performance.now() - started) / 1000;
    const tokens = batch.reduce((n, s) => n + s.tokens.length, 0);
    return {
      metrics: {
        'train/loss': m['loss']!,
        'train/grad_norm': m['grad_norm']!,
        'train/lr': m['lr']!,
        'train/num_unmasked_tokens': m['num_unmasked_tokens']!,
        'performance/tokens_per_sec': tokens / seconds,
        'timing/train_step_s': seconds,
      },
    };
  }

  /** Held-out `validation/loss` (token-mean NLL) and `validation/accuracy` (greedy exact match). */
  validate(_step: number): StepResult {
    const { model, sft, val, tokenizer } = this.args;
    const started = performance.now();
    const n =
      sft.val_batches === null
        ? val.length
        : Math.min(val.length, sft.val_batches * sft.val_global_batch_size);
    const seqs = val.slice(0, n);
    const total = weightedTokens(seqs);
    let loss = 0;
    for (const mb of microBatches(seqs, sft.val_micro_batch_size)) {
      loss += readMetricsSync(tf.tidy(() => sftMicroBatchLoss(model, mb, total, this.pad).metrics))[
        'loss'
      ]!;
    }
    const out: Record<string, number> = { 'validation/loss': loss };
    const samples: Record<string, unknown>[] = [];
    const scored = val.filter((e) => e.answer !== null).slice(0, sft.val_generation.num_prompts);
    if (scored.length > 0) {
      const completions = greedyDecode(
        model,
        scored.map((e) => Array.from(e.prompt)),
        {
          maxNewTokens: sft.val_generation.max_new_tokens,
          eosTokenId: tokenizer.eosTokenId,
          padTokenId: this.pad,
        },
      );
      let hits = 0;
      completions.forEach((c, i) => {
        const text = tokenizer.decode(c, { skipSpecialTokens: true });
        const ok = text.trim() === scored[i]!.answer!.trim();
        if (ok) hits++;
        if (i < 4)
          samples.push({
            split: 'validation',
            prompt: tokenizer.decode(scored[i]!.prompt, { skipSpecialTokens: true }),
            completion: text,
            answer: scored[i]!.answer,
            correct: ok,
          });
      });
      out['validation/accuracy'] = hits / scored.length;
    }
    out['timing/validation_s'] = (performance.now() - started) / 1000;
    return { metrics: out, samples };
  }

  /** Policy weights and optimizer state for a checkpoint. */
  saveState() {
    return savePolicyState(this.args.model, this.args.optimizer);
  }

  /** Restore a checkpoint written by {@link saveState}. */
  loadState(files: Record<string, Uint8Array>): void {
    loadPolicyState(this.args.model, this.args.optimizer, files);
  }
}
