import type { RecordBatch } from 'apache-arrow';
import { COLUMNS, readListColumn, type Tokenizer } from '@rxrl/core/base';
import type { Row } from '@rxrl/data';
import type { DpoLossOptionsInput } from '@rxrl/loss';
import type { CausalLM } from '@rxrl/model';
import type { NamedOptimizer } from '@rxrl/optimizer';
import type {
  BatchSource,
  GraphSpec,
  StageRegistry,
  StepResult,
  TrainingAlgorithm,
  ValidatedNode,
} from '@rxrl/pipeline';
import { builtinStageRegistry } from '../builtinStages';
import { rawRowsBatch } from '../shared/dataStages';
import { EpochSampler } from '../shared/epochSampler';
import type { PolicyOptions } from '../shared/policyOptions';
import { loadPolicyState, savePolicyState } from '../shared/policyState';
import { StepGraph, validateStepGraph, withLossNode } from '../shared/stepGraph';
import type { PreferencePair } from './dpoExamples';
import { graphReadsPairTexts } from './pairColumns';
import { pairShiftProblems } from './pairShifts';
import { preferenceBatch, PREFERENCE_SOURCE_COLUMNS } from './pairBatch';
import { codeObjectiveStage, type DpoObjective } from './preferenceLoss';
import { referenceLogprobsStage } from './referenceLogprobs';

export type { DpoObjective, DpoLossContext } from './preferenceLoss';

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
  /**
   * the dataset rows the pairs were tokenised from (each pair's `row`): a graph that
   * starts with `data.tokenize` is fed these rows, raw, and tokenises them itself
   */
  trainRows?: readonly Row[];
  valRows?: readonly Row[];
  seed: number;
  shuffle?: boolean;
  /**
   * the per-step graph, resolved (`dpoGraphSpec` of a recipe); default
   * [`policy.reference_logprobs` with a reference] → `loss.dpo` with `loss` →
   * `optimizer.step` with the `policy` sizes above. An `objective` replaces its loss node.
   * A pair-scoring node before the loss (`reward.pair`) adds bonus / margin columns the
   * loss reads; the pairs' texts and `source` fields are then columns of each batch.
   */
  graph?: GraphSpec;
  /** where the graph's stage names are looked up (default `builtinStageRegistry()`) */
  registry?: StageRegistry;
}

function prefixed(prefix: string, m: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) out[prefix + k] = v;
  if ('reward_gap' in m) out[prefix + 'reward_margin'] = m['reward_gap']!;
  return out;
}

/**
 * The validation graph of a training graph: its nodes up to the loss node (data,
 * pair scoring, π_ref's log-probs, the loss; `policy.reference_logprobs` added before
 * the loss where the trainer has a reference and the graph does not score with it),
 * each node's `micro_batch_size` the validation's.
 */
function validationNodes(nodes: readonly ValidatedNode[], args: DpoTrainerArgs): ValidatedNode[] {
  const lossAt = nodes.findIndex((n) => n.name.startsWith('loss.'));
  const size = args.val.val_micro_batch_size;
  const resized = (n: ValidatedNode): ValidatedNode => {
    const o = n.options as Record<string, unknown>;
    return 'micro_batch_size' in o ? { ...n, options: { ...o, micro_batch_size: size } } : n;
  };
  const before = nodes.slice(0, lossAt);
  const reference: ValidatedNode[] =
    args.reference && !before.some((n) => n.name === referenceLogprobsStage.name)
      ? [
          {
            name: referenceLogprobsStage.name,
            definition: referenceLogprobsStage,
            options: { micro_batch_size: size },
            requires: [],
            produces: [],
          },
        ]
      : [];
  return [...before.map(resized), ...reference, resized(nodes[lossAt]!)];
}

/** The default per-step graph of a {@link DpoTrainer}. */
function defaultSpec(args: DpoTrainerArgs): GraphSpec {
  const micro_batch_size = args.policy.train_micro_batch_size;
  return [
    ...(args.reference
      ? [{ stage: 'policy.reference_logprobs', options: { micro_batch_size } }]
      : []),
    { stage: 'loss.dpo', options: { ...args.loss, micro_batch_size } },
    { stage: 'optimizer.step', options: { max_grad_norm: args.policy.max_grad_norm } },
  ];
}

/**
 * DPO as the pipeline runner drives it: each step's batch of pairs (an Arrow record
 * batch from {@link sampler}) goes through the per-step graph, subscribed once per
 * run: `policy.reference_logprobs` (the frozen reference's log-probs of the whole
 * batch, without gradients), the loss node (`loss.dpo`, or `loss.orpo` / `loss.cpo` /
 * `loss.kto`, or an objective given in code: per micro-batch the policy's log-probs
 * and the objective normalised by the batch's pair and chosen-token counts,
 * gradients accumulated), then `optimizer.step` (one clipped update). Nodes between
 * them that score pairs (`reward.pair`) write bonus and margin columns that the loss
 * adds to each pair's logit. Validation is a graph too: the same nodes up to the
 * loss, run over the held-out pairs with the loss node scoring without gradients.
 */
export class DpoTrainer implements TrainingAlgorithm<RecordBatch> {
  /** the epochs' batches of pair indices (seeded shuffles, last partial batch dropped) */
  readonly epochs: EpochSampler;
  /** the training batches, epoch by epoch, as record batches (the runner's data source) */
  readonly sampler: BatchSource<RecordBatch>;
  private previous: Record<string, number> = {};
  private readonly graph: StepGraph;
  /** the tokenizer that decodes the batches' text columns, for a graph that reads them */
  private readonly texts: Tokenizer | undefined;
  /** whether the graphs start at raw rows (`data.tokenize`) */
  private readonly raw: boolean;
  /**
   * the validation graph, subscribed once per run: the training graph up to its loss
   * node (`data.tokenize`, pair-scoring nodes, `policy.reference_logprobs`, the loss)
   * with `val_micro_batch_size` pairs per forward pass, the loss node scoring without
   * gradients over all the held-out pairs
   */
  private readonly validation: StepGraph;

  constructor(private readonly args: DpoTrainerArgs) {
    this.epochs = new EpochSampler(
      args.trainPairs.length,
      args.policy.train_global_batch_size,
      args.seed,
      args.shuffle ?? true,
    );
    if (args.reference && args.reference.trainableVariables().size > 0) {
      throw new Error(
        'DpoTrainer: the reference model must be frozen (use model.referencePolicy())',
      );
    }
    const spec = args.graph ?? defaultSpec(args);
    const registry =
      args.registry ??
      builtinStageRegistry(
        args.objective ? [codeObjectiveStage(args.objective, args.mismatchedKl ?? false)] : [],
      );
    // a graph from raw rows (data.tokenize first) is fed the pairs' dataset rows
    const raw = (this.raw = spec[0]?.stage === 'data.tokenize');
    if (
      raw &&
      (!args.trainRows ||
        !args.valRows ||
        [...args.trainPairs, ...args.valPairs].some((p) => p.row === undefined))
    )
      throw new Error(
        'DpoTrainer: a graph starting with data.tokenize needs trainRows and valRows',
      );
    const nodes = validateStepGraph(args.objective ? withLossNode(spec, 'loss.objective') : spec, {
      registry,
      sourceColumns: raw ? [COLUMNS.promptId] : PREFERENCE_SOURCE_COLUMNS,
    });
    const problems = pairShiftProblems(nodes);
    if (problems.length > 0)
      throw new Error(`DpoTrainer: ${problems.map((p) => p.message).join('; ')}`);
    // the texts are decoded only for a graph with a stage that reads them
    const texts = graphReadsPairTexts(nodes) ? args.tokenizer : undefined;
    this.texts = texts;
    this.sampler = this.epochs.source((indices) => this.batchOf('train', indices));
    const services = {
      policy: args.model,
      optimizer: args.optimizer,
      tokenizer: args.tokenizer,
      reference: args.reference,
      previousMetrics: () => this.previous,
    };
    this.graph = new StepGraph(nodes, services);
    this.validation = new StepGraph(validationNodes(nodes, args), services, {
      validation: { kl_micro_batch_size: args.policy.train_micro_batch_size },
    });
  }

  /** Pairs `indices` of the training or held-out pairs as the graphs' first node takes them. */
  private batchOf(split: 'train' | 'val', indices: readonly number[]): RecordBatch {
    const pairs = split === 'train' ? this.args.trainPairs : this.args.valPairs;
    if (!this.raw) return preferenceBatch(pairs, indices, this.texts);
    const rows = (split === 'train' ? this.args.trainRows : this.args.valRows)!;
    return rawRowsBatch(
      rows,
      indices.map((i) => pairs[i]!.row!),
    );
  }

  /**
   * One optimizer step on a batch of pairs (a record batch of {@link sampler}, or
   * indices of the training pairs); `train/*` metrics are those of the policy before the update.
   */
  async trainStep(batch: RecordBatch | readonly number[], step: number): Promise<StepResult> {
    const started = performance.now();
    const b = Array.isArray(batch) ? this.batchOf('train', batch) : (batch as RecordBatch);
    const { out, metrics: m } = await this.graph.run(b, step);
    const seconds = (performance.now() - started) / 1000;
    const count = (name: string) => readListColumn(out, name, 'int32').values.length;
    const tokens =
      2 * count(COLUMNS.promptTokens) + count(COLUMNS.chosenTokens) + count(COLUMNS.rejectedTokens);
    const metrics = {
      ...prefixed('train/', m),
      'performance/tokens_per_sec': tokens / seconds,
      'timing/train_step_s': seconds,
    };
    this.previous = metrics;
    return { metrics };
  }

  /**
   * The objective's metrics on held-out pairs (`validation/*`): the first
   * `val_batches · val_global_batch_size` of them (all with `val_batches` null) through
   * the validation graph as one batch, normalised over all of them; with pair-scoring
   * nodes in the graph, their bonuses and margins enter it too.
   */
  async validate(step: number): Promise<StepResult> {
    const { val } = this.args;
    const n =
      val.val_batches === null
        ? this.args.valPairs.length
        : Math.min(this.args.valPairs.length, val.val_batches * val.val_global_batch_size);
    if (n === 0) return { metrics: {} };
    const { metrics } = await this.validation.run(
      this.batchOf(
        'val',
        Array.from({ length: n }, (_, i) => i),
      ),
      step,
    );
    return { metrics: prefixed('validation/', metrics) };
  }

  /** Policy weights and optimizer state (the reference is the starting policy and never changes). */
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
  }
}
