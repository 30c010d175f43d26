import * as tf from '@tensorflow/tfjs-core';
import { Rng, type Tokenizer } from '@rxrl/core/base';
import { gkdLoss, readMetricsSync } from '@rxrl/loss';
import type { CausalLM } from '@rxrl/model';
import type { NamedOptimizer } from '@rxrl/optimizer';
import type { StepResult, TrainingAlgorithm } from '@rxrl/pipeline';
import { accumulatedStep } from '../shared/accumulatedStep';
import { EpochSampler } from '../shared/epochSampler';
import { lmBatchArrays, lmBatchTensors, type LmSequence } from '../shared/lmBatch';
import { microBatches } from '../shared/microBatches';
import type { PolicyOptions } from '../shared/policyOptions';
import { loadPolicyState, savePolicyState } from '../shared/policyState';
import type { SftExample } from '../sft/sftExamples';
import { SftTrainer } from '../sft/sftTrainer';
import type { GkdOptions } from './gkdOptions';
import { sampledCompletions } from './sampledCompletions';

/** What a {@link GkdTrainer} works on. */
export interface GkdTrainerArgs {
  /** the student: the model that trains */
  model: CausalLM;
  /** the frozen teacher, same vocabulary */
  teacher: CausalLM;
  tokenizer: Tokenizer;
  optimizer: NamedOptimizer;
  policy: Pick<
    PolicyOptions,
    | 'train_global_batch_size'
    | 'train_micro_batch_size'
    | 'max_grad_norm'
    | 'max_total_sequence_length'
  >;
  gkd: Pick<
    GkdOptions,
    | 'lmbda'
    | 'beta'
    | 'temperature'
    | 'max_new_tokens'
    | 'seq_kd'
    | 'generation_batch_size'
    | 'val_batches'
    | 'val_global_batch_size'
    | 'val_micro_batch_size'
    | 'val_generation'
  >;
  train: SftExample[];
  val: SftExample[];
  /** seed of the epoch shuffles, the per-step on-policy draw and the sampling */
  seed: number;
  shuffle?: boolean;
}

/** A sequence with a training weight (0 drops it, as SFT's over-length examples). */
type Weighted = LmSequence & { weight: number };

function lossTokens(seqs: readonly Weighted[]): number {
  let n = 0;
  for (const s of seqs) {
    if (s.weight === 0) continue;
    for (let t = 1; t < s.mask.length; t++) if (s.mask[t]) n += s.weight;
  }
  return n;
}

/**
 * The teacher's logits `[N, V]` at every next-token position of `seqs` (N = batch · length),
 * computed outside any gradient tape: they are constants of the student's loss.
 */
export function teacherLogits(teacher: CausalLM, seqs: readonly LmSequence[], pad: number) {
  const a = lmBatchArrays(seqs, pad);
  return tf.tidy(() => {
    const t = lmBatchTensors(a);
    return tf.reshape(teacher.logits(t.ids, t.attention), [
      a.batch * a.seqLen,
      teacher.config.vocabSize,
    ]) as tf.Tensor2D;
  });
}

/**
 * GKD's loss of one micro-batch: the generalised JSD between the student's and the
 * teacher's next-token distributions at the sequences' loss tokens, summed over them and
 * divided by the global batch's count (`globalTokens`), so micro-batches add up.
 */
export function gkdMicroBatchLoss(
  student: CausalLM,
  seqs: readonly Weighted[],
  teacher: tf.Tensor2D,
  globalTokens: number,
  pad: number,
  o: Pick<GkdOptions, 'beta' | 'temperature'>,
) {
  const a = lmBatchArrays(seqs, pad);
  const t = lmBatchTensors(a);
  const n = a.batch * a.seqLen;
  const weights = new Float32Array(n);
  seqs.forEach((s, b) => {
    for (let i = 0; i < a.seqLen; i++)
      weights[b * a.seqLen + i] = a.tokenMask[b * a.seqLen + i]! * s.weight;
  });
  const mask = tf.tensor1d(weights);
  const logits = tf.reshape(student.logits(t.ids, t.attention), [
    n,
    student.config.vocabSize,
  ]) as tf.Tensor2D;
  const r = gkdLoss(
    { beta: o.beta, temperature: o.temperature },
    {
      studentLogits: logits,
      teacherLogits: teacher,
      tokenMask: mask,
      globalValidToks: globalTokens,
    },
  );
  tf.dispose([t.ids, t.attention, t.targets, t.tokenMask, mask, logits]);
  return r;
}

/**
 * Generalised knowledge distillation (GKD, on-policy distillation; Agarwal et al. 2024,
 * TRL's `GKDTrainer`) as the pipeline runner drives it. Each step, with probability
 * `lmbda`, the batch's completions are replaced by the student's own samples (at
 * `temperature`); otherwise by the teacher's samples with `seq_kd`, else the dataset's.
 * The student then minimises the generalised JSD to the teacher's next-token
 * distribution at every completion token. The draw and the samples are seeded by
 * (`seed`, step), so a resumed run repeats them. Validation: `validation/loss` is the
 * JSD on the held-out reference completions (teacher-forced, as TRL evaluates),
 * `validation/nll` the student's token NLL of them, `validation/accuracy` greedy exact match.
 */
export class GkdTrainer implements TrainingAlgorithm<number[]> {
  readonly sampler: EpochSampler;
  private readonly pad: number;
  /** the SFT trainer's validation (NLL and greedy accuracy) on the same student */
  private readonly sftValidation: SftTrainer;

  constructor(private readonly args: GkdTrainerArgs) {
    this.sampler = new EpochSampler(
      args.train.length,
      args.policy.train_global_batch_size,
      args.seed,
      args.shuffle ?? true,
    );
    this.pad = args.tokenizer.padTokenId ?? args.tokenizer.eosTokenId ?? 0;
    this.sftValidation = new SftTrainer({
      model: args.model,
      tokenizer: args.tokenizer,
      optimizer: args.optimizer,
      policy: args.policy,
      sft: args.gkd,
      train: args.train,
      val: args.val,
      seed: args.seed,
      shuffle: false,
    });
  }

  /** Which sequences a step trains on: the student's or teacher's samples, or the dataset's. */
  private async stepSequences(
    batch: SftExample[],
    step: number,
  ): Promise<{ seqs: Weighted[]; onPolicy: boolean; teacherSampled: boolean }> {
    const { gkd, model, teacher, tokenizer, policy, seed } = this.args;
    const rng = new Rng(seed).fork(`gkd/step/${step}`);
    // TRL draws once per batch: `random.random() <= lmbda`; lmbda 0 never, 1 always
    const onPolicy = gkd.lmbda > 0 && rng.float() < gkd.lmbda;
    const source = onPolicy ? model : gkd.seq_kd ? teacher : null;
    if (source === null) return { seqs: batch, onPolicy, teacherSampled: false };
    const seqs = await sampledCompletions(
      source,
      tokenizer,
      batch.map((e) => e.prompt),
      {
        temperature: gkd.temperature,
        maxNewTokens: gkd.max_new_tokens,
        maxLength: policy.max_total_sequence_length,
        seed: rng.uint32(),
        batchSize: gkd.generation_batch_size,
      },
    );
    // an example SFT dropped from the loss stays dropped
    seqs.forEach((s, i) => (s.weight = batch[i]!.weight));
    return { seqs, onPolicy, teacherSampled: !onPolicy };
  }

  /** One optimizer step; metrics `train/loss` (the JSD), `train/on_policy`, `train/mean_completion_length`, … */
  async trainStep(indices: number[], step: number): Promise<StepResult> {
    const { model, teacher, optimizer, policy, gkd } = this.args;
    const started = performance.now();
    const batch = indices.map((i) => this.args.train[i]!);
    const { seqs, onPolicy, teacherSampled } = await this.stepSequences(batch, step);
    const generated = performance.now();
    const global = lossTokens(seqs);
    const mbs = microBatches(seqs, policy.train_micro_batch_size);
    const teacherParts = mbs.map((mb) => teacherLogits(teacher, mb, this.pad));
    let m: Record<string, number>;
    try {
      m = accumulatedStep({
        model,
        optimizer,
        microBatches: mbs,
        loss: (mb, i) => gkdMicroBatchLoss(model, mb, teacherParts[i]!, global, this.pad, gkd),
        maxGradNorm: policy.max_grad_norm,
      });
    } finally {
      tf.dispose(teacherParts);
    }
    const seconds = (performance.now() - started) / 1000;
    const completion = seqs.reduce((n, s) => n + countOnes(s.mask), 0) / seqs.length;
    return {
      metrics: {
        'train/loss': m['loss']!,
        'train/grad_norm': m['grad_norm']!,
        'train/lr': m['lr']!,
        'train/num_unmasked_tokens': m['num_unmasked_tokens']!,
        'train/on_policy': onPolicy ? 1 : 0,
        'train/teacher_sampled': teacherSampled ? 1 : 0,
        'train/mean_completion_length': completion,
        'performance/tokens_per_sec': seqs.reduce((n, s) => n + s.tokens.length, 0) / seconds,
        'timing/generation_s': (generated - started) / 1000,
        'timing/train_step_s': seconds,
      },
    };
  }

  /** `validation/loss` (JSD on reference completions), `validation/nll`, `validation/accuracy`. */
  validate(step: number): StepResult {
    const { model, teacher, gkd, val } = this.args;
    const started = performance.now();
    const n =
      gkd.val_batches === null
        ? val.length
        : Math.min(val.length, gkd.val_batches * gkd.val_global_batch_size);
    const seqs = val.slice(0, n);
    const total = lossTokens(seqs);
    let jsd = 0;
    for (const mb of microBatches(seqs, gkd.val_micro_batch_size)) {
      const t = teacherLogits(teacher, mb, this.pad);
      const r = tf.tidy(() => gkdMicroBatchLoss(model, mb, t, total, this.pad, gkd).metrics);
      t.dispose();
      jsd += readMetricsSync(r)['loss']!;
    }
    const sft = this.sftValidation.validate(step);
    const { 'validation/loss': nll, 'timing/validation_s': _t, ...rest } = sft.metrics;
    return {
      metrics: {
        'validation/loss': jsd,
        'validation/nll': nll!,
        ...rest,
        'timing/validation_s': (performance.now() - started) / 1000,
      },
      samples: sft.samples,
    };
  }

  /** Student weights and optimizer state (the teacher is frozen, the draws are seeded by step). */
  saveState() {
    return savePolicyState(this.args.model, this.args.optimizer);
  }

  loadState(files: Record<string, Uint8Array>): void {
    loadPolicyState(this.args.model, this.args.optimizer, files);
  }
}

function countOnes(mask: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) n++;
  return n;
}
