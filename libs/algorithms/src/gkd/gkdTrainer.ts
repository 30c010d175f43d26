import * as tf from '@tensorflow/tfjs-core';
import type { RecordBatch } from 'apache-arrow';
import type { Tokenizer } from '@rxrl/core/base';
import { readMetricsSync } from '@rxrl/loss';
import type { CausalLM } from '@rxrl/model';
import type { NamedOptimizer } from '@rxrl/optimizer';
import type {
  BatchSource,
  GraphSpec,
  StageRegistry,
  StepResult,
  TrainingAlgorithm,
} from '@rxrl/pipeline';
import { builtinStageRegistry } from '../builtinStages';
import { EpochSampler } from '../shared/epochSampler';
import { microBatches } from '../shared/microBatches';
import type { PolicyOptions } from '../shared/policyOptions';
import { loadPolicyState, savePolicyState } from '../shared/policyState';
import { StepGraph, validateStepGraph, withKeyDefaults } from '../shared/stepGraph';
import { padTokenOf } from '../shared/trainingServices';
import { SFT_SOURCE_COLUMNS, sftBatch } from '../sft/sftBatch';
import type { SftExample } from '../sft/sftExamples';
import { SftTrainer } from '../sft/sftTrainer';
import { gkdMicroBatchLoss, lossTokens, teacherLogits, type GkdObjective } from './gkdLoss';
import type { GkdOptions } from './gkdOptions';
import { gkdSequences } from './gkdStages';

export { gkdMicroBatchLoss, teacherLogits } from './gkdLoss';

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
  /** the per-step graph, resolved; default `gkd.sample_completions` → `loss.gkd` → `optimizer.step` from the options above */
  graph?: GraphSpec;
  /** where the graph's stage names are looked up (default `builtinStageRegistry()`) */
  registry?: StageRegistry;
  /** replace the generalised JSD of the graph's `loss.gkd` node (training; validation/loss stays the JSD) */
  objective?: GkdObjective;
}

export type { GkdObjective, GkdLossContext } from './gkdLoss';

/**
 * The per-step graph of a GKD run from its options (a recipe's `gkd`, `policy` and
 * `seed`): `gkd.sample_completions` → `loss.gkd` → `optimizer.step`.
 */
export function gkdGraphSpec(args: {
  gkd: Pick<
    GkdOptions,
    'lmbda' | 'beta' | 'temperature' | 'max_new_tokens' | 'seq_kd' | 'generation_batch_size'
  >;
  policy: Pick<
    PolicyOptions,
    'train_micro_batch_size' | 'max_grad_norm' | 'max_total_sequence_length'
  > &
    Partial<Pick<PolicyOptions, 'optimizer' | 'scheduler'>>;
  seed: number;
}): GraphSpec {
  const g = args.gkd;
  return [
    {
      stage: 'gkd.sample_completions',
      options: {
        lmbda: g.lmbda,
        seq_kd: g.seq_kd,
        temperature: g.temperature,
        max_new_tokens: g.max_new_tokens,
        max_length: args.policy.max_total_sequence_length,
        generation_batch_size: g.generation_batch_size,
        seed: args.seed,
      },
    },
    {
      stage: 'loss.gkd',
      options: {
        beta: g.beta,
        temperature: g.temperature,
        micro_batch_size: args.policy.train_micro_batch_size,
      },
    },
    {
      stage: 'optimizer.step',
      options: {
        ...(args.policy.optimizer ? { optimizer: args.policy.optimizer } : {}),
        ...(args.policy.scheduler ? { scheduler: args.policy.scheduler } : {}),
        max_grad_norm: args.policy.max_grad_norm,
      },
    },
  ];
}

/**
 * The resolved graph of a GKD recipe: its `graph:` section (`spec`), each node's options
 * over what the keys give that stage in {@link gkdGraphSpec}, else that graph. What the run
 * trains on, builds its optimizer from, and `rxrl config --graph` prints.
 */
export function gkdRecipeGraphSpec(
  config: Parameters<typeof gkdGraphSpec>[0] & { graph: GraphSpec | null },
  spec: GraphSpec | null = config.graph,
): GraphSpec {
  const keys = gkdGraphSpec(config);
  if (spec === null) return keys;
  return withKeyDefaults(
    spec,
    Object.fromEntries(keys.map((n) => [n.stage, 'options' in n ? (n.options ?? {}) : {}])),
  );
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
export class GkdTrainer implements TrainingAlgorithm<RecordBatch> {
  /** the epochs' batches of example indices (seeded shuffles, last partial batch dropped) */
  readonly epochs: EpochSampler;
  /** the training batches, epoch by epoch, as record batches (the runner's data source) */
  readonly sampler: BatchSource<RecordBatch>;
  private readonly pad: number;
  /** the SFT trainer's validation (NLL and greedy accuracy) on the same student */
  private readonly sftValidation: SftTrainer;
  private readonly graph: StepGraph;

  constructor(private readonly args: GkdTrainerArgs) {
    this.epochs = new EpochSampler(
      args.train.length,
      args.policy.train_global_batch_size,
      args.seed,
      args.shuffle ?? true,
    );
    this.sampler = this.epochs.source((indices) => sftBatch(args.train, indices));
    this.pad = padTokenOf(args.tokenizer);
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
      ...(args.registry ? { registry: args.registry } : {}),
    });
    const nodes = validateStepGraph(args.graph ?? gkdGraphSpec(args), {
      registry: args.registry ?? builtinStageRegistry(),
      sourceColumns: SFT_SOURCE_COLUMNS,
    });
    this.graph = new StepGraph(
      nodes,
      {
        policy: args.model,
        optimizer: args.optimizer,
        tokenizer: args.tokenizer,
        reference: null,
        previousMetrics: () => ({}),
      },
      { teacher: args.teacher, ...(args.objective ? { gkd_objective: args.objective } : {}) },
    );
  }

  /**
   * One optimizer step on a batch of examples (a record batch of {@link sampler}, or
   * indices of the training examples); metrics `train/loss` (the JSD), `train/on_policy`,
   * `train/mean_completion_length`, …
   */
  async trainStep(batch: RecordBatch | readonly number[], step: number): Promise<StepResult> {
    const started = performance.now();
    const b = Array.isArray(batch) ? sftBatch(this.args.train, batch) : (batch as RecordBatch);
    const { out, metrics: m } = await this.graph.run(b, step);
    const seqs = gkdSequences(out);
    const seconds = (performance.now() - started) / 1000;
    const completion = seqs.reduce((n, s) => n + countOnes(s.mask), 0) / seqs.length;
    return {
      metrics: {
        'train/loss': m['loss']!,
        'train/grad_norm': m['grad_norm']!,
        'train/lr': m['lr']!,
        'train/num_unmasked_tokens': m['num_unmasked_tokens']!,
        'train/on_policy': m['on_policy']!,
        'train/teacher_sampled': m['teacher_sampled']!,
        'train/mean_completion_length': completion,
        'performance/tokens_per_sec': seqs.reduce((n, s) => n + s.tokens.length, 0) / seconds,
        'timing/generation_s': m['timing/generation_s']!,
        'timing/train_step_s': seconds,
      },
    };
  }

  /** `validation/loss` (JSD on reference completions), `validation/nll`, `validation/accuracy`. */
  async validate(step: number): Promise<StepResult> {
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
    const sft = await this.sftValidation.validate(step);
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

  /** Ends the graph's subscription (the caller owns the models and the optimizer). */
  dispose(): void {
    this.graph.close();
  }
}

function countOnes(mask: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) n++;
  return n;
}
