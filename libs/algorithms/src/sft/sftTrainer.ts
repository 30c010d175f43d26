import * as tf from '@tensorflow/tfjs-core';
import type { RecordBatch } from 'apache-arrow';
import { COLUMNS, readListColumn, type Tokenizer } from '@rxrl/core/base';
import type { Row } from '@rxrl/data';
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
import { loadPolicyState, savePolicyState } from '../shared/policyState';
import { rawRowsBatch } from '../shared/dataStages';
import { EpochSampler } from '../shared/epochSampler';
import { generationValidation, generationValidationSpec } from '../shared/generationValidation';
import { microBatches } from '../shared/microBatches';
import type { PolicyOptions } from '../shared/policyOptions';
import { StepGraph, validateStepGraph, withLossNode } from '../shared/stepGraph';
import { padTokenOf } from '../shared/trainingServices';
import { SFT_SOURCE_COLUMNS, sftBatch } from './sftBatch';
import type { SftExample } from './sftExamples';
import { sftLossStage, sftMicroBatchLoss, weightedTokens, type SftObjective } from './sftLoss';
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
   * the dataset rows `train` was tokenised from (each example's `row`): a graph that
   * starts with `data.tokenize` is fed these rows, raw, and tokenises them itself
   */
  trainRows?: readonly Row[];
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
 * then `optimizer.step` (one clipped update). `validate(step)` reports held-out
 * token NLL and greedy exact-match accuracy.
 */
export class SftTrainer implements TrainingAlgorithm<RecordBatch> {
  /** the epochs' batches of example indices (seeded shuffles, last partial batch dropped) */
  readonly epochs: EpochSampler;
  /** the training batches, epoch by epoch, as record batches (the runner's data source) */
  readonly sampler: BatchSource<RecordBatch>;
  private readonly pad: number;
  private readonly graph: StepGraph;
  /** a step's batch of training examples `indices`, as the graph's first node takes it */
  private readonly batchOf: (indices: readonly number[]) => RecordBatch;
  /** where the training and validation graphs' stages are looked up */
  private readonly registry: StageRegistry;

  constructor(private readonly args: SftTrainerArgs) {
    this.epochs = new EpochSampler(
      args.train.length,
      args.policy.train_global_batch_size,
      args.seed,
      args.shuffle ?? true,
    );
    this.pad = padTokenOf(args.tokenizer);
    const spec = args.graph ?? defaultSpec(args);
    // a graph from raw rows (data.tokenize first) is fed the examples' dataset rows
    const raw = spec[0]?.stage === 'data.tokenize';
    if (raw && (!args.trainRows || args.train.some((e) => e.row === undefined)))
      throw new Error('SftTrainer: a graph starting with data.tokenize needs trainRows');
    this.batchOf = raw
      ? (indices) =>
          rawRowsBatch(
            args.trainRows!,
            indices.map((i) => args.train[i]!.row!),
          )
      : (indices) => sftBatch(args.train, indices);
    this.sampler = this.epochs.source((indices) => this.batchOf(indices));
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
    this.graph = new StepGraph(nodes, {
      policy: args.model,
      optimizer: args.optimizer,
      tokenizer: args.tokenizer,
      reference: null,
      previousMetrics: () => ({}),
    });
  }

  /**
   * One optimizer step on a batch of examples (a record batch of {@link sampler}, or
   * indices of the training examples); metrics are `train/*` and `performance/tokens_per_sec`.
   */
  async trainStep(batch: RecordBatch | readonly number[], step: number): Promise<StepResult> {
    const started = performance.now();
    const b = Array.isArray(batch) ? this.batchOf(batch) : (batch as RecordBatch);
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
   * Held-out `validation/loss` (token-mean NLL), then the validation graph
   * (`generationValidationSpec`): up to `val_generation.num_prompts` held-out prompts
   * with an answer, generated greedily and scored by the reward the recipe names
   * (`val_generation.reward`, default `reward.exact_match`): `validation/accuracy` for a
   * verifier, else `validation/reward`.
   */
  async validate(_step: number): Promise<StepResult> {
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

  /** Ends the graph's subscription (the caller owns the policy and optimizer). */
  dispose(): void {
    this.graph.close();
  }
}
