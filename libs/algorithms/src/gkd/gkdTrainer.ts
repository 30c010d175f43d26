import type { RecordBatch } from 'apache-arrow';
import { COLUMNS, type Tokenizer } from '@rxrl/core/base';
import type { Row } from '@rxrl/data';
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
import { rawRowsBatch } from '../shared/dataStages';
import { EpochSampler } from '../shared/epochSampler';
import type { PolicyOptions } from '../shared/policyOptions';
import { loadPolicyState, savePolicyState } from '../shared/policyState';
import {
  nodesBeforeLoss,
  stageNode,
  StepGraph,
  tokenizeKeys,
  validateStepGraph,
  withDataTokenize,
  withKeyDefaults,
} from '../shared/stepGraph';
import { SFT_SOURCE_COLUMNS, sftBatch } from '../sft/sftBatch';
import type { SftExample } from '../sft/sftExamples';
import { SftTrainer } from '../sft/sftTrainer';
import type { GkdObjective } from './gkdLoss';
import type { GkdOptions } from './gkdOptions';
import { gkdLossStage, gkdSequences } from './gkdStages';

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
  /**
   * the dataset rows `train` and `val` were tokenised from (each example's `row`): a
   * graph that starts with `data.tokenize` is fed these rows, raw, and tokenises them
   * itself (training and validation graphs alike)
   */
  trainRows?: readonly Row[];
  valRows?: readonly Row[];
  /** seed of the epoch shuffles, the per-step on-policy draw and the sampling */
  seed: number;
  shuffle?: boolean;
  /**
   * the per-step graph, resolved (`gkdRecipeGraphSpec` of a recipe: `data.tokenize`
   * first); default `gkd.sample_completions` → `loss.gkd` → `optimizer.step` from the
   * options above, over tokenised examples
   */
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
 * The resolved graph of a GKD recipe, from raw rows: `data.tokenize` (SFT rows: the
 * `data` format keys and `policy.max_total_sequence_length`; first unless `spec`
 * places it), then its `graph:` section (`spec`) or else {@link gkdGraphSpec}'s
 * stages, each node's options over what the keys give that stage. What the run
 * trains on, builds its optimizer from, and `rxrl config --graph` prints.
 */
export function gkdRecipeGraphSpec(
  config: Parameters<typeof gkdGraphSpec>[0] & {
    graph: GraphSpec | null;
    data: Record<string, unknown>;
  },
  spec: GraphSpec | null = config.graph,
): GraphSpec {
  const keys = gkdGraphSpec(config);
  return withKeyDefaults(withDataTokenize(spec ?? keys), {
    ...Object.fromEntries(keys.map((n) => [n.stage, 'options' in n ? (n.options ?? {}) : {}])),
    'data.tokenize': {
      rows: 'sft',
      ...tokenizeKeys(config.data, config.policy.max_total_sequence_length),
    },
  });
}

/**
 * Generalised knowledge distillation (GKD, on-policy distillation; Agarwal et al. 2024,
 * TRL's `GKDTrainer`) as the pipeline runner drives it. Each step, with probability
 * `lmbda`, the batch's completions are replaced by the student's own samples (at
 * `temperature`); otherwise by the teacher's samples with `seq_kd`, else the dataset's.
 * The student then minimises the generalised JSD to the teacher's next-token
 * distribution at every completion token. The draw and the samples are seeded by
 * (`seed`, step), so a resumed run repeats them. Validation is graphs too:
 * `validation/loss` is the JSD on the held-out reference completions (teacher-forced,
 * as TRL evaluates: the training graph up to its loss, `gkd.sample_completions`
 * passing the data's completions, `loss.gkd` scoring without gradients),
 * `validation/nll` the student's token NLL of them and `validation/accuracy` greedy
 * exact match (the SFT validation graphs on the same student).
 */
export class GkdTrainer implements TrainingAlgorithm<RecordBatch> {
  /** the epochs' batches of example indices (seeded shuffles, last partial batch dropped) */
  readonly epochs: EpochSampler;
  /** the training batches, epoch by epoch, as record batches (the runner's data source) */
  readonly sampler: BatchSource<RecordBatch>;
  /** the SFT trainer's validation graphs (NLL and greedy accuracy) on the same student */
  private readonly sftValidation: SftTrainer;
  private readonly graph: StepGraph;
  /**
   * the validation graph, subscribed once per run: the training graph's nodes before
   * its loss then `loss.gkd` (the `gkd` keys' β and temperature) with
   * `val_micro_batch_size` sequences per forward pass, scoring without gradients
   */
  private readonly validation: StepGraph;
  /** whether the graphs start at raw rows (`data.tokenize`) */
  private readonly raw: boolean;

  constructor(private readonly args: GkdTrainerArgs) {
    this.epochs = new EpochSampler(
      args.train.length,
      args.policy.train_global_batch_size,
      args.seed,
      args.shuffle ?? true,
    );
    const spec = args.graph ?? gkdGraphSpec(args);
    // a graph from raw rows (data.tokenize first) is fed the examples' dataset rows
    const raw = (this.raw = spec[0]?.stage === 'data.tokenize');
    if (
      raw &&
      (!args.trainRows ||
        !args.valRows ||
        [...args.train, ...args.val].some((e) => e.row === undefined))
    )
      throw new Error(
        'GkdTrainer: a graph starting with data.tokenize needs trainRows and valRows',
      );
    this.sampler = this.epochs.source((indices) => this.batchOf('train', indices));
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
      // its validation graph tokenises the held-out rows as this one does
      ...(raw
        ? {
            graph: [spec[0]!, { stage: 'loss.nll' }, { stage: 'optimizer.step' }],
            trainRows: args.trainRows!,
            valRows: args.valRows!,
          }
        : {}),
      ...(args.registry ? { registry: args.registry } : {}),
    });
    const nodes = validateStepGraph(spec, {
      registry: args.registry ?? builtinStageRegistry(),
      sourceColumns: raw ? [COLUMNS.promptId] : SFT_SOURCE_COLUMNS,
    });
    const services = {
      policy: args.model,
      optimizer: args.optimizer,
      tokenizer: args.tokenizer,
      reference: null,
      previousMetrics: () => ({}),
    };
    this.graph = new StepGraph(nodes, services, {
      teacher: args.teacher,
      ...(args.objective ? { gkd_objective: args.objective } : {}),
    });
    const size = args.gkd.val_micro_batch_size;
    this.validation = new StepGraph(
      [
        ...nodesBeforeLoss(nodes, size),
        stageNode(
          gkdLossStage,
          gkdLossStage.schema.parse({
            beta: args.gkd.beta,
            temperature: args.gkd.temperature,
            micro_batch_size: size,
          }),
        ),
      ],
      services,
      { teacher: args.teacher, validation: true },
    );
  }

  /** Examples `indices` of the training or held-out examples as the graphs' first node takes them. */
  private batchOf(split: 'train' | 'val', indices: readonly number[]): RecordBatch {
    const examples = split === 'train' ? this.args.train : this.args.val;
    if (!this.raw) return sftBatch(examples, indices);
    return rawRowsBatch(
      (split === 'train' ? this.args.trainRows : this.args.valRows)!,
      indices.map((i) => examples[i]!.row!),
    );
  }

  /**
   * One optimizer step on a batch of examples (a record batch of {@link sampler}, or
   * indices of the training examples); metrics `train/loss` (the JSD), `train/on_policy`,
   * `train/mean_completion_length`, …
   */
  async trainStep(batch: RecordBatch | readonly number[], step: number): Promise<StepResult> {
    const started = performance.now();
    const b = Array.isArray(batch) ? this.batchOf('train', batch) : (batch as RecordBatch);
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
    const { gkd, val } = this.args;
    const started = performance.now();
    const n =
      gkd.val_batches === null
        ? val.length
        : Math.min(val.length, gkd.val_batches * gkd.val_global_batch_size);
    // no held-out examples: a loss of 0, as the sum over none
    const jsd =
      n === 0
        ? 0
        : (
            await this.validation.run(
              this.batchOf(
                'val',
                Array.from({ length: n }, (_, i) => i),
              ),
              step,
            )
          ).metrics['loss']!;
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

  /** Ends the graphs' subscriptions (the caller owns the models and the optimizer). */
  dispose(): void {
    this.graph.close();
    this.validation.close();
    this.sftValidation.dispose();
  }
}

function countOnes(mask: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) n++;
  return n;
}
