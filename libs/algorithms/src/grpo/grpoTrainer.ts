import { summarizeValues } from '@rxrl/logging';
import type { RecordBatch } from 'apache-arrow';
import {
  COLUMNS,
  readFloat32Column,
  readListColumn,
  withBatchMeta,
  type Stage,
  type Tokenizer,
} from '@rxrl/core/base';
import { lastValueFrom, of } from 'rxjs';
import { CoefficientSchedules } from '@rxrl/loss';
import type { CausalLM } from '@rxrl/model';
import type { NamedOptimizer } from '@rxrl/optimizer';
import {
  buildGraph,
  openGraphSession,
  validateGraph,
  pipe,
  type GraphSession,
  type GraphSpec,
  type MoreBatches,
  type StageRegistry,
  type StateFiles,
  type StepResult,
  type TrainingAlgorithm,
  type ValidatedNode,
} from '@rxrl/pipeline';
import { mathReward } from '@rxrl/reward';
import type { GrpoConfig } from './grpoConfig';
import { overlongFilterStage, type Embedder } from '@rxrl/grouping';
import {
  correctRewardOf,
  GRPO_SOURCE_COLUMNS,
  grpoGraphSpec,
  grpoValidationSpec,
  grpoTrainTemperature,
  splitGrpoGraph,
  validateGrpoGraph,
} from './grpoGraph';
import { promptBatch, type PromptSet } from './promptSet';
import { PromptEmbedder } from './promptEmbedder';
import type { RolloutRows } from './rolloutRows';
import { grpoStepLoop, type StepRollout } from './grpoStepLoop';
import { PendingUpdate } from '../shared/accumulatedStep';
import { builtinStageRegistry } from '../builtinStages';
import { loadPolicyState, savePolicyState } from '../shared/policyState';
import { validateStepGraph } from '../shared/stepGraph';
import { GRPO_UPDATE_COLUMNS, grpoUpdateSpec, type GrpoObjective } from './clippedPgLossStage';

export type { GrpoObjective, GrpoLossContext } from './clippedPgLossStage';

/** What a GRPO trainer runs on. */
export interface GrpoTrainerOptions {
  /** replace the default clipped policy-gradient objective */
  objective?: GrpoObjective;
  config: GrpoConfig;
  model: CausalLM;
  tokenizer: Tokenizer;
  optimizer: NamedOptimizer;
  /** held-out prompts for `validate` */
  validation: PromptSet;
  /** the per-step graph: a stage built in code, or a spec (resolved with the recipe's keys by `grpoGraphSpec`); default the recipe's */
  graph?: Stage | GraphSpec;
  /** where graph stage names are looked up (default `builtinStageRegistry()`) */
  registry?: StageRegistry;
  /** more services for the graph's stages; an `embedder` here wins over {@link embedder} */
  services?: Record<string, unknown>;
  /**
   * prompt embeddings for grouping strategies that read them (semantic, multi_criteria,
   * an adaptive phase): default the policy's hidden states mean-pooled over the prompt
   * tokens (`PromptEmbedder.forPolicy`, cached per `grpo.grouping.embedding_cache_size`)
   */
  embedder?: PromptEmbedder | Embedder;
}

const mean = (xs: ArrayLike<number>) => {
  let s = 0;
  let n = 0;
  for (let i = 0; i < xs.length; i++) {
    if (Number.isNaN(xs[i]!)) continue;
    s += xs[i]!;
    n++;
  }
  return n === 0 ? NaN : s / n;
};

/**
 * GRPO with NeMo RL's loop semantics, driven by the pipeline runner: each step
 * runs the prompt batch through the graph (generate `num_generations_per_prompt`
 * completions, reward, group advantages), then the clipped policy-gradient loss
 * over micro-batches with global normalisers, gradient accumulation, one
 * global-norm clip and one AdamW step per `train_global_batch_size` samples.
 */
export class GrpoTrainer implements TrainingAlgorithm<RecordBatch> {
  /** the graph, subscribed once for the run and fed each step's batches */
  private session: GraphSession | null = null;
  /** the resolved spec (null for a graph built in code) */
  private readonly spec: GraphSpec | null;
  private readonly reference: CausalLM | null;
  /**
   * Where `train/accuracy` is read: the column of the graph's verifier reward and its
   * `correct_reward` (`correctRewardOf`), null without one (no accuracy then); a graph
   * built in code declares no reward, so the math verifier scores its completions.
   */
  private readonly correctAt: { column: string; value: number } | null | 'math';
  private readonly verify;
  private stageMetrics: Record<string, number> = {};
  /**
   * The policy trained is the sampler's: log-probs of softmax(logits / T) at the
   * rollout temperature T (as NeMo RL scales logits by the generation
   * temperature), so ratios and `token_mult_prob_error` compare like with like.
   * T is the resolved graph's rollout temperature (a graph built in code: the
   * recipe's `policy.generation.temperature`). Greedy rollouts (T = 0) train at T = 1.
   */
  private readonly trainTemperature: number;
  private readonly registry: StageRegistry;
  /** the recipe's `schedules:` (loss_fn coefficients by step or by metric) */
  private readonly coefficients: CoefficientSchedules;
  /** the previous step's metrics, which metric-driven schedules read (checkpointed with them) */
  private lastMetrics: Record<string, number> = {};
  /** prompt embeddings for the grouping stage (a PromptEmbedder's cache counts are logged) */
  private readonly embedder: PromptEmbedder | Embedder;
  /** the services the graph's stages get */
  private readonly services: Record<string, unknown>;
  /** the graph's update nodes (`loss.clipped_pg` → `optimizer.step`), validated */
  private readonly updateNodes: ValidatedNode[];
  /** gradients the loss node adds and `optimizer.step` applies */
  private readonly pending = new PendingUpdate();
  /** this step's scheduled `loss_fn` coefficients, which the loss node reads */
  private stepCoefficients: Record<string, number> = {};
  /** the runner's `more` of the step in progress (dynamic sampling's refills) */
  private more: MoreBatches<RecordBatch> | undefined;
  /** the step in progress: its rollout, when its updates started, each update's metrics */
  private current: {
    rollout: StepRollout | null;
    updatesAt: number;
    updates: Record<string, number>[];
  } = { rollout: null, updatesAt: 0, updates: [] };

  constructor(private readonly o: GrpoTrainerOptions) {
    this.registry = o.registry ?? builtinStageRegistry();
    const { config } = o;
    // a graph built in code is opaque; a spec (the recipe's by default) is resolved and checked
    // up front (samples per step against the optimizer batch: grpoSections' cross-check)
    const spec =
      typeof o.graph === 'function' ? null : grpoGraphSpec(config, o.graph ?? config.graph);
    const nodes = spec ? validateGrpoGraph(spec, { registry: this.registry }) : null;
    this.spec = spec && splitGrpoGraph(spec).rollout;
    // π_ref is the policy as training starts (before any checkpoint is loaded); with LoRA,
    // the base with adapters off (a view of the same weights, no copy)
    this.coefficients = new CoefficientSchedules(config.schedules, config, (p) =>
      p.startsWith('loss_fn.'),
    );
    this.reference =
      config.loss_fn.reference_policy_kl_penalty > 0 ||
      'loss_fn.reference_policy_kl_penalty' in config.schedules
        ? o.model.referencePolicy()
        : null;
    this.verify = mathReward({ ...config.env.math, correct_reward: 1, incorrect_reward: 0 });
    this.correctAt = nodes ? correctRewardOf(nodes) : 'math';
    this.trainTemperature = grpoTrainTemperature(config, this.spec);
    const g = config.grpo.grouping;
    this.embedder =
      o.embedder ??
      PromptEmbedder.forPolicy(o.model, {
        cacheSize: g.embedding_cache_size,
        microBatchSize: g.embedding_micro_batch_size,
      });
    this.services = {
      policy: o.model,
      tokenizer: o.tokenizer,
      embedder: this.embedder instanceof PromptEmbedder ? this.embedder.embed : this.embedder,
      ...o.services,
    };
    // a graph built in code is the rollout part: the recipe's keys give its update
    this.updateNodes =
      nodes?.slice(this.spec!.length) ??
      validateStepGraph(grpoUpdateSpec(config, this.trainTemperature), {
        registry: this.registry,
        sourceColumns: GRPO_UPDATE_COLUMNS,
      });
  }

  /**
   * The graph, built and subscribed once for the run (again after a step failed, as an
   * RxJS error ends a subscription): prompt batches in, through the rollout stages
   * (generation, reward, advantages, filters), the step's samples through the update
   * stages (`loss.clipped_pg` → `optimizer.step`) in the same stream (`grpoStepLoop`).
   * Stages read each batch's step from its metadata.
   */
  private graphSession(): GraphSession {
    if (this.session) return this.session;
    const context = {
      services: this.services,
      emit: (m: Record<string, number>) => {
        for (const [k, v] of Object.entries(m))
          this.stageMetrics[/^(train|validation|timing|performance)\//.test(k) ? k : `train/${k}`] =
            v;
      },
    };
    const g = this.o.graph;
    const rollout: Stage = this.spec
      ? buildGraph(this.spec, context, {
          sourceColumns: GRPO_SOURCE_COLUMNS,
          registry: this.registry,
        })
      : // a graph built in code gets the recipe's overlong filtering as a last stage
        this.o.config.grpo.overlong_filtering
        ? pipe(g as Stage, overlongFilterStage.create({}, context))
        : (g as Stage);
    const updateContext = {
      services: {
        ...(this.o.objective ? { grpo_objective: this.o.objective } : {}),
        step_coefficients: () => this.stepCoefficients,
        policy: this.o.model,
        optimizer: this.o.optimizer,
        tokenizer: this.o.tokenizer,
        reference: this.reference,
        previous_metrics: () => this.lastMetrics,
        update: this.pending,
      },
      // one record per update: the step's metrics are their mean
      emit: (m: Record<string, number>) => Object.assign(this.current.updates.at(-1)!, m),
    };
    const update = pipe(
      ...this.updateNodes.map((n) => n.definition.create(n.options, updateContext)),
    );
    return (this.session = openGraphSession(
      grpoStepLoop(rollout, {
        update,
        globalBatchSize: this.o.config.policy.train_global_batch_size,
        more: async () => (this.more ? await this.more() : undefined),
        onRollout: (rollout) => {
          this.current.rollout = rollout;
          this.current.updatesAt = performance.now();
        },
        beforeUpdate: () => {
          // nothing pending from an update that failed
          this.pending.reset();
          this.current.updates.push({});
        },
      }),
    ));
  }

  /** 1 where the recipe's verifier reward says right (see {@link correctAt}), per row of a generation batch. */
  private correctness(batch: RecordBatch, rows: RolloutRows): number[] {
    const at = this.correctAt;
    if (at === 'math')
      return rows.completionTexts.map((c, i) =>
        this.verify({ prompt: '', completion: c, answer: rows.answers[i] }) === 1 ? 1 : 0,
      );
    const verdicts = readFloat32Column(batch, at!.column);
    return Array.from(verdicts, (r) => (r === at!.value ? 1 : 0));
  }

  async trainStep(
    batch: RecordBatch,
    step: number,
    more?: MoreBatches<RecordBatch>,
  ): Promise<StepResult> {
    const { config } = this.o;
    this.stageMetrics = {};
    // scheduled coefficients for this step, from the previous step's metrics
    const coefficients = this.coefficients.values(step, this.lastMetrics);
    const lossFn = CoefficientSchedules.apply(config, coefficients).loss_fn;
    const t0 = performance.now();
    const cacheBefore = this.embedder instanceof PromptEmbedder ? { ...this.embedder.stats } : null;
    // the step through the graph: its prompt batch (and, while filter.dynamic_sampling
    // wants more groups, the epoch's next ones) through the rollout stages, then its
    // samples through the update stages, `train_global_batch_size` per optimizer update
    this.stepCoefficients = coefficients;
    this.more = more;
    this.current = { rollout: null, updatesAt: t0, updates: [] };
    const before = { ...this.pending.timings };
    try {
      await this.graphSession().push(withBatchMeta(batch, { step, round: 0 }));
    } catch (err) {
      // the failed subscription is over: the next step subscribes the graph again
      this.session?.close();
      this.session = null;
      throw err;
    } finally {
      this.pending.reset();
      this.more = undefined;
    }
    const t2 = performance.now();
    const { batches, generated, train } = this.current.rollout!;
    const tRollout = (this.current.updatesAt - t0) / 1000;
    // reward and accuracy of everything the policy generated this step, filtered or not
    const allRewards = generated.flatMap((g) => Array.from(g.rewards));
    const allCorrect =
      this.correctAt === null ? [] : generated.flatMap((g, i) => this.correctness(batches[i]!, g));
    const n = train.rewards.length;
    const {
      completions,
      rewards,
      advantages,
      sampleMask,
      finishReasons: finish,
      completionTexts: texts,
      answers,
    } = train;
    const updates = this.current.updates;
    const sums: Record<string, number> = {};
    let trainedTokens = 0;
    for (const metrics of updates) {
      const { trained_tokens: tokens, ...update } = metrics;
      trainedTokens += tokens!;
      for (const [k, v] of Object.entries(update)) sums[k] = (sums[k] ?? 0) + v / updates.length;
    }
    const tTrain = (t2 - this.current.updatesAt) / 1000;
    const after = this.pending.timings;
    const lossBackward = (after.lossBackwardMs - before.lossBackwardMs) / 1000;
    const optimizerStep = (after.optimizerMs - before.optimizerMs) / 1000;

    const lengths = Array.from(
      { length: n },
      (_, i) => completions.offsets[i + 1]! - completions.offsets[i]!,
    );
    const metrics: Record<string, number> = {
      ...this.stageMetrics,
      // no update (NaN) only when dynamic sampling found no varying group before the epoch ended
      'train/loss': sums['loss'] ?? NaN,
      'train/reward': mean(allRewards),
      // the fraction the recipe's verifier reward calls right (none without a verifier)
      ...(this.correctAt !== null ? { 'train/accuracy': mean(allCorrect) } : {}),
      'train/grad_norm': sums['grad_norm'] ?? NaN,
      'train/lr': sums['lr'] ?? NaN,
      'train/probs_ratio': sums['probs_ratio'] ?? NaN,
      'train/token_mult_prob_error': sums['token_mult_prob_error'] ?? NaN,
      'train/mean_completion_length': mean(lengths),
      'train/fraction_truncated': mean(finish.map((f) => (f === 'length' ? 1 : 0))),
      'train/num_valid_samples': sampleMask.reduce((a, b) => a + b, 0),
      'timing/rollout_and_reward': tRollout,
      'timing/policy_training': tTrain,
      // policy_training by part: forward + loss + backward of every micro-batch; the
      // gradient norm, clip and AdamW update; and the rest of the update graph — the
      // log-prob passes outside the tape (π_ref for the KL penalty, π_old with several
      // updates per rollout, entropies for top_entropy_quantile; NeMo RL's name)
      'timing/loss_and_backward': lossBackward,
      'timing/optimizer_step': optimizerStep,
      'timing/policy_and_reference_logprobs': Math.max(0, tTrain - lossBackward - optimizerStep),
      'performance/tokens_per_sec':
        (trainedTokens + lengths.reduce((a, b) => a + b, 0)) / (tRollout + tTrain),
    };
    if (this.reference) metrics['train/kl_penalty'] = sums['kl_penalty'] ?? NaN;
    // prompt embeddings this step: distinct prompts from the cache / computed, forward passes
    if (cacheBefore && this.embedder instanceof PromptEmbedder) {
      const now = this.embedder.stats;
      if (now.hits + now.misses > cacheBefore.hits + cacheBefore.misses) {
        metrics['train/grouping/embedding_cache_hits'] = now.hits - cacheBefore.hits;
        metrics['train/grouping/embedding_cache_misses'] = now.misses - cacheBefore.misses;
        metrics['train/grouping/embedding_forward_passes'] =
          now.forwardPasses - cacheBefore.forwardPasses;
      }
    }
    // debugging: the reward's spread next to its mean, and the loss by term
    const spread = summarizeValues(allRewards);
    metrics['train/reward_std'] = spread.std;
    metrics['train/reward_min'] = spread.min;
    metrics['train/reward_max'] = spread.max;
    for (const [k, v] of Object.entries(sums))
      if (k.startsWith('grad_norm/')) metrics[`train/${k}`] = v;
    for (const k of ['actor_loss', 'kl_loss', 'nll_loss', 'entropy_loss'])
      metrics[`train/${k}`] = sums[k] ?? NaN;
    if (lossFn.entropy_coef !== 0) metrics['train/entropy'] = sums['entropy'] ?? NaN;
    for (const [path, v] of Object.entries(coefficients)) metrics[`train/schedule/${path}`] = v;
    this.lastMetrics = metrics;
    const samples = Array.from({ length: Math.min(config.grpo.num_samples_logged, n) }, (_, i) => ({
      split: 'train',
      prompt: train.promptTexts[i],
      completion: texts[i],
      answer: answers[i],
      reward: rewards[i],
      advantage: advantages[i],
    }));
    return {
      metrics,
      samples,
      histograms: { 'train/reward': rewards, 'train/advantage': advantages },
    };
  }

  /**
   * A validation pass as a graph: the held-out prompts through the rollout node
   * (once each, at `grpo.val_temperature`) and the recipe's reward nodes, subscribed
   * for this pass (a pass is one stream of one batch). `validation/reward` is the mean
   * reward; `validation/accuracy` the fraction at the verifier's `correct_reward`
   * when the reward is `reward.math` or `reward.exact_match`.
   */
  async validate(): Promise<StepResult> {
    const { config, validation } = this.o;
    const spec = grpoValidationSpec(config, this.spec);
    const nodes = validateGraph(spec, {
      registry: this.registry,
      sourceColumns: GRPO_SOURCE_COLUMNS,
    });
    // validation generates here, not on a generation worker: the trainer waits for it anyway,
    // and the worker meanwhile keeps sampling the next training batches (whose options its
    // prefetches copy from the requests it serves: greedy validation requests would spoil them)
    const { generator: _worker, ...services } = this.services;
    const context = { services, emit: () => {} };
    const graph = pipe(...nodes.map((n) => n.definition.create(n.options, context)));
    const source = promptBatch(
      validation,
      Array.from({ length: validation.tokens.length }, (_, i) => i),
    );
    const out = await lastValueFrom(of(source).pipe(graph));
    const rewards = readFloat32Column(out, COLUMNS.reward);
    const correctAt = correctRewardOf(nodes);
    const verdicts = correctAt ? readFloat32Column(out, correctAt.column) : rewards;
    const correct = Array.from(verdicts, (r) => (r === correctAt?.value ? 1 : 0));
    const { offsets } = readListColumn(out, COLUMNS.completionTokens, 'int32');
    const lengths = Array.from({ length: out.numRows }, (_, i) => offsets[i + 1]! - offsets[i]!);
    const text = (name: string, i: number) => out.getChild(name)?.get(i) as string | null;
    const shown = Math.min(config.logger.num_val_samples_to_print, out.numRows);
    return {
      metrics: {
        ...(correctAt !== null ? { 'validation/accuracy': mean(correct) } : {}),
        'validation/reward': mean(rewards),
        'validation/mean_completion_length': mean(lengths),
        'validation/num_samples': out.numRows,
      },
      samples: Array.from({ length: shown }, (_, i) => ({
        split: 'validation',
        prompt: text(COLUMNS.promptText, i),
        completion: text(COLUMNS.completionText, i),
        answer: text(COLUMNS.answer, i),
        ...(correctAt !== null ? { correct: correct[i] } : { reward: rewards[i] }),
      })),
    };
  }

  saveState(): StateFiles {
    const files = savePolicyState(this.o.model, this.o.optimizer);
    if (this.coefficients.size === 0) return files;
    // controller values and integrals, and the metrics the next step's update reads
    const json = JSON.stringify({
      schedules: this.coefficients.getState(),
      last_metrics: this.lastMetrics,
    });
    return { ...files, 'schedules.json': json };
  }

  loadState(files: Record<string, Uint8Array>): void {
    loadPolicyState(this.o.model, this.o.optimizer, files);
    const saved = files['schedules.json'];
    if (saved !== undefined && this.coefficients.size > 0) {
      const { schedules, last_metrics } = JSON.parse(new TextDecoder().decode(saved)) as {
        schedules: Record<string, Record<string, number | null>>;
        last_metrics: Record<string, number | null>;
      };
      this.coefficients.setState(schedules);
      // JSON writes NaN as null
      this.lastMetrics = Object.fromEntries(
        Object.entries(last_metrics).map(([k, v]) => [k, v ?? NaN]),
      );
    }
  }

  /** Ends the graph's subscription and frees the reference policy (the caller owns the policy and optimizer). */
  dispose(): void {
    this.session?.close();
    this.session = null;
    this.reference?.dispose();
  }
}
