import type { RecordBatch } from 'apache-arrow';
import { COLUMNS, readListColumn, type Tokenizer } from '@rxrl/core/base';
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
import { loadPolicyState, savePolicyState } from '../shared/policyState';
import { rawRowsBatch } from '../shared/dataStages';
import { EpochSampler } from '../shared/epochSampler';
import { generationValidation, generationValidationSpec } from '../shared/generationValidation';
import type { PolicyOptions } from '../shared/policyOptions';
import {
  nodesBeforeLoss,
  stageNode,
  StepGraph,
  validateStepGraph,
  withLossNode,
} from '../shared/stepGraph';
import { SFT_SOURCE_COLUMNS, sftBatch } from './sftBatch';
import type { SftExample } from './sftExamples';
import { nllLossStage, sftLossStage, type SftObjective } from './sftLoss';
import type { SftOptions } from './sftOptions';

export type { SftObjective, SftLossContext } from './sftLoss';

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
  /**
   * the dataset rows `train` and `val` were tokenised from (each example's `row`): a
   * graph that starts with `data.tokenize` is fed these rows, raw, and tokenises them
   * itself (training and validation graphs alike)
   */
  trainRows?: readonly Row[];
  valRows?: readonly Row[];
  /** seed of the epoch shuffles */
  seed: number;
  /** reshuffle every epoch */
  shuffle?: boolean;
  /**
   * the per-step graph, resolved (`sftGraphSpec` of a recipe); default `loss.<sft.loss_type>`
   * → `optimizer.step` with the `policy` sizes above. An `objective` replaces its loss node.
   */
  graph?: GraphSpec;
  /** where the graph's stage names are looked up (default `builtinStageRegistry()`) */
  registry?: StageRegistry;
}

/** The default per-step graph of an {@link SftTrainer}: its loss, then the optimizer step. */
function defaultSpec(args: SftTrainerArgs): GraphSpec {
  return [
    {
      stage: `loss.${args.sft.loss_type ?? 'nll'}`,
      options: { micro_batch_size: args.policy.train_micro_batch_size },
    },
    { stage: 'optimizer.step', options: { max_grad_norm: args.policy.max_grad_norm } },
  ];
}

/**
 * Supervised fine-tuning as the pipeline runner drives it: each step's batch of
 * tokenised examples (an Arrow record batch from {@link sampler}) goes through the
 * per-step graph, subscribed once per run: `loss.nll` / `loss.dft` (micro-batched
 * forward and backward, normalised by the batch's valid tokens, NeMo RL's NLLLoss)
 * then `optimizer.step` (one clipped update). Validation is a graph too: the same
 * nodes up to the loss, then `loss.nll` scoring the held-out examples without
 * gradients (`validation/loss`), and the generation graph (greedy exact-match accuracy).
 */
export class SftTrainer implements TrainingAlgorithm<RecordBatch> {
  /** the epochs' batches of example indices (seeded shuffles, last partial batch dropped) */
  readonly epochs: EpochSampler;
  /** the training batches, epoch by epoch, as record batches (the runner's data source) */
  readonly sampler: BatchSource<RecordBatch>;
  private readonly graph: StepGraph;
  /**
   * the validation graph, subscribed once per run: the training graph's nodes before
   * its loss (`data.tokenize`) then `loss.nll` with `val_micro_batch_size` examples per
   * forward pass, scoring without gradients (`validation/loss` is the NLL whatever the
   * training loss)
   */
  private readonly validation: StepGraph;
  /** whether the graphs start at raw rows (`data.tokenize`) */
  private readonly raw: boolean;
  /** where the training and validation graphs' stages are looked up */
  private readonly registry: StageRegistry;

  constructor(private readonly args: SftTrainerArgs) {
    this.epochs = new EpochSampler(
      args.train.length,
      args.policy.train_global_batch_size,
      args.seed,
      args.shuffle ?? true,
    );
    const spec = args.graph ?? defaultSpec(args);
    // a graph from raw rows (data.tokenize first) is fed the examples' dataset rows
    const raw = (this.raw = spec[0]?.stage === 'data.tokenize');
    if (
      raw &&
      (!args.trainRows ||
        !args.valRows ||
        [...args.train, ...args.val].some((e) => e.row === undefined))
    )
      throw new Error(
        'SftTrainer: a graph starting with data.tokenize needs trainRows and valRows',
      );
    this.sampler = this.epochs.source((indices) => this.batchOf('train', indices));
    const registry = (this.registry =
      args.registry ??
      builtinStageRegistry(
        args.objective
          ? [sftLossStage('loss.objective', 'an SFT objective given in code', args.objective)]
          : [],
      ));
    const nodes = validateStepGraph(args.objective ? withLossNode(spec, 'loss.objective') : spec, {
      registry,
      sourceColumns: raw ? [COLUMNS.promptId] : SFT_SOURCE_COLUMNS,
    });
    const services = {
      policy: args.model,
      optimizer: args.optimizer,
      tokenizer: args.tokenizer,
      reference: null,
      previousMetrics: () => ({}),
    };
    this.graph = new StepGraph(nodes, services);
    const size = args.sft.val_micro_batch_size;
    this.validation = new StepGraph(
      [...nodesBeforeLoss(nodes, size), stageNode(nllLossStage, { micro_batch_size: size })],
      services,
      { validation: true },
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
   * indices of the training examples); metrics are `train/*` and `performance/tokens_per_sec`.
   */
  async trainStep(batch: RecordBatch | readonly number[], step: number): Promise<StepResult> {
    const started = performance.now();
    const b = Array.isArray(batch) ? this.batchOf('train', batch) : (batch as RecordBatch);
    const { out, metrics: m } = await this.graph.run(b, step);
    const seconds = (performance.now() - started) / 1000;
    const tokens = readListColumn(out, COLUMNS.inputTokens, 'int32').values.length;
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

  /**
   * Held-out `validation/loss`: the token-mean NLL of the first
   * `val_batches · val_global_batch_size` held-out examples (all with `val_batches`
   * null) through the validation graph as one batch; then the generation graph
   * (`generationValidationSpec`): up to `val_generation.num_prompts` held-out prompts
   * with an answer, generated greedily and scored by the reward the recipe names
   * (`val_generation.reward`, default `reward.exact_match`): `validation/accuracy` for a
   * verifier, else `validation/reward`.
   */
  async validate(step: number): Promise<StepResult> {
    const { model, sft, val, tokenizer } = this.args;
    const started = performance.now();
    const n =
      sft.val_batches === null
        ? val.length
        : Math.min(val.length, sft.val_batches * sft.val_global_batch_size);
    // no held-out examples: a loss of 0, as the sum over none
    const loss =
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
    const out: Record<string, number> = { 'validation/loss': loss };
    let samples: Record<string, unknown>[] = [];
    const scored = val
      .filter((e): e is SftExample & { answer: string } => e.answer !== null)
      .slice(0, sft.val_generation.num_prompts);
    if (scored.length > 0) {
      const pass = await generationValidation({
        spec: generationValidationSpec(sft.val_generation, this.args.seed),
        registry: this.registry,
        model,
        tokenizer,
        examples: scored,
      });
      Object.assign(out, pass.metrics);
      samples = pass.samples;
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

  /** Ends the graphs' subscriptions (the caller owns the policy and optimizer). */
  dispose(): void {
    this.graph.close();
    this.validation.close();
  }
}
