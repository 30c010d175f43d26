import * as tf from '@tensorflow/tfjs-core';
import type { RecordBatch } from 'apache-arrow';
import { lastValueFrom, of } from 'rxjs';
import { COLUMNS, readListColumn, type Tokenizer } from '@rxrl/core/base';
import { dpoLoss, readMetricsSync, type DpoLossOptionsInput } from '@rxrl/loss';
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
import { pipe } from '@rxrl/pipeline';
import { builtinStageRegistry } from '../builtinStages';
import { EpochSampler } from '../shared/epochSampler';
import { microBatches } from '../shared/microBatches';
import type { PolicyOptions } from '../shared/policyOptions';
import { loadPolicyState, savePolicyState } from '../shared/policyState';
import { StepGraph, validateStepGraph, withLossNode } from '../shared/stepGraph';
import { padTokenOf, type TrainingServices } from '../shared/trainingServices';
import type { PreferencePair } from './dpoExamples';
import { graphReadsPairTexts } from './pairColumns';
import { pairShiftProblems, pairShiftsOf } from './pairShifts';
import {
  pairBatchArrays,
  pairTokenLogps,
  preferenceBatch,
  PREFERENCE_SOURCE_COLUMNS,
} from './pairBatch';
import {
  asPreferenceLoss,
  chosenTokens,
  codeObjectiveStage,
  klReferencePoint,
  pairMicroBatchLoss,
  type DpoObjective,
} from './preferenceLoss';

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
 * adds to each pair's logit; validation runs them once over the held-out pairs.
 */
export class DpoTrainer implements TrainingAlgorithm<RecordBatch> {
  /** the epochs' batches of pair indices (seeded shuffles, last partial batch dropped) */
  readonly epochs: EpochSampler;
  /** the training batches, epoch by epoch, as record batches (the runner's data source) */
  readonly sampler: BatchSource<RecordBatch>;
  private readonly pad: number;
  private previous: Record<string, number> = {};
  private readonly graph: StepGraph;
  /** the graph's objective, which validation scores with, and whether it takes KTO's z₀ */
  private readonly scoring: { objective: DpoObjective; mismatchedKl: boolean };
  /** the tokenizer that decodes the batches' text columns, for a graph that reads them */
  private readonly texts: Tokenizer | undefined;
  private readonly services: Omit<TrainingServices, 'update'>;
  /** the graph's nodes that validation runs over the held-out pairs (pair-scoring stages) */
  private readonly validationNodes: readonly ValidatedNode[];
  /** the held-out pairs' batch after {@link validationNodes}, and what they emitted (made once) */
  private validationBatch: {
    n: number;
    batch: RecordBatch;
    metrics: Record<string, number>;
  } | null = null;

  constructor(private readonly args: DpoTrainerArgs) {
    this.epochs = new EpochSampler(
      args.trainPairs.length,
      args.policy.train_global_batch_size,
      args.seed,
      args.shuffle ?? true,
    );
    this.pad = padTokenOf(args.tokenizer);
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
    const nodes = validateStepGraph(args.objective ? withLossNode(spec, 'loss.objective') : spec, {
      registry,
      sourceColumns: PREFERENCE_SOURCE_COLUMNS,
    });
    const problems = pairShiftProblems(nodes);
    if (problems.length > 0)
      throw new Error(`DpoTrainer: ${problems.map((p) => p.message).join('; ')}`);
    // the texts are decoded only for a graph with a stage that reads them
    const texts = graphReadsPairTexts(nodes) ? args.tokenizer : undefined;
    this.texts = texts;
    this.sampler = this.epochs.source((indices) =>
      preferenceBatch(args.trainPairs, indices, texts),
    );
    const lossAt = nodes.findIndex((n) => n.name.startsWith('loss.'));
    const loss = nodes[lossAt]!;
    // validation scores π_ref per micro-batch itself; the other nodes before the loss
    // (pair-scoring stages) run over the held-out pairs
    this.validationNodes = nodes
      .slice(0, lossAt)
      .filter((n) => n.name !== 'policy.reference_logprobs');
    const def = asPreferenceLoss(loss.definition);
    this.scoring = def
      ? { objective: def.objectiveOf(loss.options), mismatchedKl: def.mismatchedKl(loss.options) }
      : {
          objective: (inputs) => dpoLoss(this.args.loss, inputs),
          mismatchedKl: args.mismatchedKl ?? false,
        };
    this.services = {
      policy: args.model,
      optimizer: args.optimizer,
      tokenizer: args.tokenizer,
      reference: args.reference,
      previousMetrics: () => this.previous,
    };
    this.graph = new StepGraph(nodes, this.services);
  }

  /**
   * One optimizer step on a batch of pairs (a record batch of {@link sampler}, or
   * indices of the training pairs); `train/*` metrics are those of the policy before the update.
   */
  async trainStep(batch: RecordBatch | readonly number[], step: number): Promise<StepResult> {
    const started = performance.now();
    const b = Array.isArray(batch)
      ? preferenceBatch(this.args.trainPairs, batch, this.texts)
      : (batch as RecordBatch);
    const { metrics: m } = await this.graph.run(b, step);
    const seconds = (performance.now() - started) / 1000;
    const count = (name: string) => readListColumn(b, name, 'int32').values.length;
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
   * The held-out pairs' batch after the graph's pair-scoring nodes (their bonus and
   * margin columns), made on the first validation; null for a graph without such nodes.
   */
  private async scoredValidation(
    n: number,
  ): Promise<{ batch: RecordBatch; metrics: Record<string, number> } | null> {
    if (this.validationNodes.length === 0 || n === 0) return null;
    if (this.validationBatch?.n === n) return this.validationBatch;
    const metrics: Record<string, number> = {};
    const context = {
      services: { ...this.services, previous_metrics: this.services.previousMetrics },
      emit: (m: Record<string, number>) => Object.assign(metrics, m),
    };
    const stages = this.validationNodes.map((node) =>
      node.definition.create(node.options, context),
    );
    const input = preferenceBatch(
      this.args.valPairs,
      Array.from({ length: n }, (_, i) => i),
      this.texts,
    );
    const batch = await lastValueFrom(of(input).pipe(pipe(...stages)));
    this.validationBatch = { n, batch, metrics };
    return this.validationBatch;
  }

  /**
   * The objective's metrics on held-out pairs (`validation/*`), normalised over all of
   * them; with pair-scoring nodes in the graph, their bonuses and margins enter it too.
   */
  async validate(step: number): Promise<StepResult> {
    const { val, model, reference } = this.args;
    const n =
      val.val_batches === null
        ? this.args.valPairs.length
        : Math.min(this.args.valPairs.length, val.val_batches * val.val_global_batch_size);
    const pairs = this.args.valPairs.slice(0, n);
    const global = {
      pairs: pairs.reduce((k, p) => k + p.weight, 0),
      chosenToks: chosenTokens(pairs),
    };
    const kl =
      this.scoring.mismatchedKl && reference
        ? klReferencePoint(
            model,
            reference,
            pairs,
            this.args.policy.train_micro_batch_size,
            this.pad,
          )
        : undefined;
    const objective = this.scoring.objective;
    const scored = await this.scoredValidation(n);
    const sums: Record<string, number> = { ...scored?.metrics };
    const indices = Array.from({ length: n }, (_, i) => i);
    for (const rows of microBatches(indices, val.val_micro_batch_size)) {
      const mb = rows.map((i) => pairs[i]!);
      const ref = reference ? pairTokenLogps(reference, pairBatchArrays(mb, this.pad)) : null;
      const m = readMetricsSync(
        tf.tidy(
          () =>
            pairMicroBatchLoss(
              model,
              mb,
              ref,
              this.pad,
              global,
              objective,
              {
                step,
                pairs: mb,
                previous: this.previous,
                validation: true,
                klReferencePoint: kl,
              },
              scored ? pairShiftsOf(scored.batch, rows) : {},
            ).metrics,
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

  /** Ends the graph's subscription (the caller owns the models and the optimizer). */
  dispose(): void {
    this.graph.close();
  }
}
