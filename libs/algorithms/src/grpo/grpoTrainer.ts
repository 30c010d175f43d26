import * as tf from '@tensorflow/tfjs-core';
import { summarizeValues } from '@rxrl/logging';
import { lastValueFrom, of } from 'rxjs';
import type { RecordBatch } from 'apache-arrow';
import {
  getColumn,
  makeRecordBatch,
  type ColumnInput,
  type Stage,
  type Tokenizer,
} from '@rxrl/core/base';
import { clippedPgLoss, CoefficientSchedules, stopGradient } from '@rxrl/loss';
import type { CausalLM } from '@rxrl/model';
import type { NamedOptimizer } from '@rxrl/optimizer';
import {
  buildGraph,
  stageRegistry,
  type GraphSpec,
  type MoreBatches,
  type StageRegistry,
  type StateFiles,
  type StepResult,
  type TrainingAlgorithm,
} from '@rxrl/pipeline';
import { mathReward } from '@rxrl/reward';
import { generate } from '@rxrl/rollout';
import { accumulatedStep } from '../shared/accumulatedStep';
import { microBatches } from '../shared/microBatches';
import type { GrpoConfig } from './grpoConfig';
import { GRPO_SOURCE_COLUMNS, grpoGraphSpec, validateGrpoGraph } from './grpoGraph';
import {
  completionLogprobs,
  completionLogprobsAndEntropies,
  completionEntropiesHost,
  completionLogprobsHost,
  policyBatch,
  type PolicyBatch,
} from './policyBatch';
import { refillVaryingGroups } from './dynamicSamplingRefill';
import type { PromptSet } from './promptSet';
import { readRolloutRows, type RolloutRows } from './rolloutRows';
import { registerAlgorithmStages, ROUND_METADATA_KEY, STEP_METADATA_KEY } from './rolloutStage';
import { loadPolicyState, savePolicyState } from '../shared/policyState';

/** What a GRPO trainer runs on. */
export interface GrpoTrainerOptions {
  config: GrpoConfig;
  model: CausalLM;
  tokenizer: Tokenizer;
  optimizer: NamedOptimizer;
  /** held-out prompts for `validate` */
  validation: PromptSet;
  /** the per-step graph: a stage built in code, or a spec; default the recipe's (`grpoGraphSpec`) */
  graph?: Stage | GraphSpec;
  /** where graph stage names are looked up (default the process-wide registry) */
  registry?: StageRegistry;
  /** more services for the graph's stages (e.g. `embedder` for semantic grouping) */
  services?: Record<string, unknown>;
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
 * The sampling temperature of the graph's `rollout.generate` node (its own
 * option, which overrides the recipe's), or `fallback` for a graph built in code.
 */
function rolloutTemperature(spec: GraphSpec | null, fallback: number): number {
  const node = spec?.find((n) => n.stage === 'rollout.generate');
  const t =
    node && 'options' in node ? (node.options as { temperature?: unknown }).temperature : undefined;
  return typeof t === 'number' ? t : fallback;
}

/**
 * GRPO with NeMo RL's loop semantics, driven by the pipeline runner: each step
 * runs the prompt batch through the graph (generate `num_generations_per_prompt`
 * completions, reward, group advantages), then the clipped policy-gradient loss
 * over micro-batches with global normalisers, gradient accumulation, one
 * global-norm clip and one AdamW step per `train_global_batch_size` samples.
 */
export class GrpoTrainer implements TrainingAlgorithm<RecordBatch> {
  private graph: Stage | null = null;
  private readonly reference: CausalLM | null;
  private readonly verify;
  private stageMetrics: Record<string, number> = {};
  /**
   * The policy trained is the sampler's: log-probs of softmax(logits / T) at the
   * rollout temperature T (as NeMo RL scales logits by the generation
   * temperature), so ratios and `token_mult_prob_error` compare like with like.
   * T is the graph's `rollout.generate` temperature (a graph built in code: the
   * recipe's `policy.generation.temperature`). Greedy rollouts (T = 0) train at T = 1.
   */
  private readonly trainTemperature: number;
  /** the recipe's `schedules:` (loss_fn coefficients by step or by metric) */
  private readonly coefficients: CoefficientSchedules;
  /** the previous step's metrics, which metric-driven schedules read (checkpointed with them) */
  private lastMetrics: Record<string, number> = {};

  constructor(private readonly o: GrpoTrainerOptions) {
    registerAlgorithmStages(o.registry ?? stageRegistry);
    const { config } = o;
    const total = config.grpo.num_prompts_per_step * config.grpo.num_generations_per_prompt;
    if (total % config.policy.train_global_batch_size !== 0) {
      throw new Error(
        `grpo.num_prompts_per_step × grpo.num_generations_per_prompt = ${total} samples per step must be a multiple of policy.train_global_batch_size (${config.policy.train_global_batch_size})`,
      );
    }
    // a graph built in code is opaque; a spec (the recipe's by default) is checked up front
    const spec = typeof o.graph === 'function' ? null : (o.graph ?? grpoGraphSpec(config));
    if (spec) validateGrpoGraph(spec, o.registry ? { registry: o.registry } : {});
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
    const rolloutT = rolloutTemperature(spec, config.policy.generation.temperature);
    this.trainTemperature = rolloutT > 0 ? rolloutT : 1;
  }

  /** The graph, built at the first step so stages that count steps start at the right one after a resume. */
  private graphFor(step: number): Stage {
    if (this.graph) return this.graph;
    const g = this.o.graph;
    if (typeof g === 'function') return (this.graph = g);
    const spec = (g ?? grpoGraphSpec(this.o.config)).map((n) =>
      n.stage === 'grouping.form_groups'
        ? { ...n, options: { start_step: step - 1, ...n.options } }
        : n,
    );
    const context = {
      services: { policy: this.o.model, tokenizer: this.o.tokenizer, ...this.o.services },
      emit: (m: Record<string, number>) => {
        for (const [k, v] of Object.entries(m))
          this.stageMetrics[/^(train|validation|timing|performance)\//.test(k) ? k : `train/${k}`] =
            v;
      },
    };
    return (this.graph = buildGraph(spec, context, {
      sourceColumns: GRPO_SOURCE_COLUMNS,
      ...(this.o.registry ? { registry: this.o.registry } : {}),
    }));
  }

  /** Runs one prompt batch through the graph: generation, reward, advantages. `round` counts a step's generation batches. */
  private async rollout(batch: RecordBatch, step: number, round = 0): Promise<RolloutRows> {
    const withStep = makeRecordBatch(
      Object.fromEntries(
        batch.schema.fields.map((f) => [
          f.name,
          getColumn(batch, f.name) as unknown as ColumnInput,
        ]),
      ),
      new Map([
        [STEP_METADATA_KEY, String(step)],
        [ROUND_METADATA_KEY, String(round)],
      ]),
    );
    const rows = readRolloutRows(await lastValueFrom(of(withStep).pipe(this.graphFor(step))));
    if (this.o.config.grpo.overlong_filtering)
      rows.finishReasons.forEach((f, i) => f === 'length' && (rows.sampleMask[i] = 0));
    return rows;
  }

  /** 1 where the math verifier accepts the completion, whatever the reward graph is. */
  private correctness(rows: RolloutRows): number[] {
    return rows.completionTexts.map((c, i) =>
      this.verify({ prompt: '', completion: c, answer: rows.answers[i] }) === 1 ? 1 : 0,
    );
  }

  async trainStep(
    batch: RecordBatch,
    step: number,
    more?: MoreBatches<RecordBatch>,
  ): Promise<StepResult> {
    const { config, model, optimizer } = this.o;
    this.stageMetrics = {};
    // scheduled coefficients for this step, from the previous step's metrics
    const coefficients = this.coefficients.values(step, this.lastMetrics);
    const lossFn = CoefficientSchedules.apply(config, coefficients).loss_fn;
    const t0 = performance.now();
    let train = await this.rollout(batch, step);
    let generated = [train];
    const dsMetrics: Record<string, number> = {};
    if (config.grpo.use_dynamic_sampling) {
      let round = 0;
      const ds = await refillVaryingGroups(
        train,
        async () => {
          const b = more ? await more() : undefined;
          return b ? this.rollout(b, step, ++round) : undefined;
        },
        {
          targetGroups: config.grpo.num_prompts_per_step,
          maxGenBatches: config.grpo.dynamic_sampling_max_gen_batches,
        },
      );
      train = ds.rows;
      generated = ds.generated;
      Object.assign(dsMetrics, {
        'train/dynamic_sampling_num_gen_batches': ds.generated.length,
        'train/dynamic_sampling_kept_groups': ds.keptGroups,
        'train/dynamic_sampling_kept_fraction':
          ds.generatedGroups === 0 ? 0 : ds.keptGroups / ds.generatedGroups,
        'train/dynamic_sampling_num_discarded_valid_samples': ds.discardedValidSamples,
      });
    }
    const tRollout = (performance.now() - t0) / 1000;
    // reward and accuracy of everything the policy generated this step, filtered or not
    const allRewards = generated.flatMap((g) => Array.from(g.rewards));
    const allCorrect = generated.flatMap((g) => this.correctness(g));
    const n = train.rewards.length;
    const {
      prompts,
      completions,
      genLogprobs: gen,
      rewards,
      advantages,
      sampleMask,
      finishReasons: finish,
      completionTexts: texts,
      answers,
    } = train;

    const t1 = performance.now();
    const gbs = config.policy.train_global_batch_size;
    const all = Array.from({ length: n }, (_, i) => i);
    const updates = microBatches(all, gbs);
    const sums: Record<string, number> = {};
    let trainedTokens = 0;
    for (const rows of updates) {
      const mbs = microBatches(rows, config.policy.train_micro_batch_size).map((r) =>
        this.hostBatch(
          r,
          prompts,
          completions,
          gen,
          advantages,
          sampleMask,
          rewards,
          updates.length > 1,
        ),
      );
      const globalValidToks = mbs.reduce((s, m) => s + m.validToks, 0);
      const globalValidSeqs = mbs.reduce((s, m) => s + m.validSeqs, 0);
      const metrics = accumulatedStep({
        model,
        optimizer,
        microBatches: mbs,
        maxGradNorm: config.policy.max_grad_norm,
        gradNormPerLayerEvery: config.logger.grad_norm_per_layer_every,
        loss: (mb) => {
          const B = mb.pb.rows;
          const T = mb.pb.width;
          // entropy_coef: the policy's entropies from the same pass, with gradient
          const withEntropy = lossFn.entropy_coef !== 0;
          const both = withEntropy
            ? completionLogprobsAndEntropies(model, mb.pb, this.trainTemperature)
            : null;
          const curr = both?.logprobs ?? completionLogprobs(model, mb.pb, this.trainTemperature);
          return clippedPgLoss(lossFn, {
            ...(both ? { policyEntropies: both.entropies } : {}),
            currLogprobs: curr,
            prevLogprobs: mb.prev
              ? tf.tensor2d(mb.prev, [B, T])
              : (stopGradient(curr) as tf.Tensor2D),
            generationLogprobs: tf.tensor2d(mb.gen, [B, T]),
            ...(mb.ref ? { refLogprobs: tf.tensor2d(mb.ref, [B, T]) } : {}),
            advantages: tf.tensor1d(mb.adv),
            tokenMask: tf.tensor2d(mb.pb.tokenMask, [B, T]),
            sampleMask: tf.tensor1d(mb.mask),
            rewards: tf.tensor1d(mb.rewards),
            globalValidToks: Math.max(globalValidToks, 1),
            globalValidSeqs: Math.max(globalValidSeqs, 1),
            ...(mb.ent ? { entropies: tf.tensor2d(mb.ent, [B, T]) } : {}),
          });
        },
      });
      for (const [k, v] of Object.entries(metrics)) sums[k] = (sums[k] ?? 0) + v / updates.length;
      trainedTokens += mbs.reduce((s, m) => s + m.pb.rows * (m.pb.promptWidth + m.pb.width), 0);
    }
    const tTrain = (performance.now() - t1) / 1000;

    const lengths = Array.from(
      { length: n },
      (_, i) => completions.offsets[i + 1]! - completions.offsets[i]!,
    );
    const metrics: Record<string, number> = {
      ...this.stageMetrics,
      ...dsMetrics,
      // no update (NaN) only when dynamic sampling found no varying group before the epoch ended
      'train/loss': sums['loss'] ?? NaN,
      'train/reward': mean(allRewards),
      'train/accuracy': mean(allCorrect),
      'train/grad_norm': sums['grad_norm'] ?? NaN,
      'train/lr': sums['lr'] ?? NaN,
      'train/probs_ratio': sums['probs_ratio'] ?? NaN,
      'train/token_mult_prob_error': sums['token_mult_prob_error'] ?? NaN,
      'train/mean_completion_length': mean(lengths),
      'train/fraction_truncated': mean(finish.map((f) => (f === 'length' ? 1 : 0))),
      'train/num_valid_samples': sampleMask.reduce((a, b) => a + b, 0),
      'timing/rollout_and_reward': tRollout,
      'timing/policy_training': tTrain,
      'performance/tokens_per_sec':
        (trainedTokens + lengths.reduce((a, b) => a + b, 0)) / (tRollout + tTrain),
    };
    if (this.reference) metrics['train/kl_penalty'] = sums['kl_penalty'] ?? NaN;
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

  /** One micro-batch's inputs as host arrays; reference and old-policy log-probs computed here, outside the tape. */
  private hostBatch(
    rows: number[],
    prompts: { values: Int32Array; offsets: Int32Array },
    completions: { values: Int32Array; offsets: Int32Array },
    gen: { values: Float32Array; offsets: Int32Array },
    advantages: Float32Array,
    sampleMask: Float32Array,
    rewards: Float32Array,
    needPrev: boolean,
  ) {
    const pb: PolicyBatch = policyBatch(
      rows,
      prompts,
      completions,
      this.o.tokenizer.padTokenId ?? 0,
    );
    const mask = Float32Array.from(rows, (r) => sampleMask[r]!);
    let validToks = 0;
    for (let i = 0; i < rows.length; i++)
      for (let t = 0; t < pb.width; t++) validToks += pb.tokenMask[i * pb.width + t]! * mask[i]!;
    return {
      pb,
      mask,
      validToks,
      validSeqs: mask.reduce((a, b) => a + b, 0),
      adv: Float32Array.from(rows, (r) => advantages[r]!),
      rewards: Float32Array.from(rows, (r) => (Number.isNaN(rewards[r]!) ? 0 : rewards[r]!)),
      gen: pb.align(gen.values, gen.offsets),
      ref: this.reference
        ? completionLogprobsHost(this.reference, pb, this.trainTemperature)
        : null,
      // with several updates per rollout, π_old must be fixed before the first one
      prev: needPrev ? completionLogprobsHost(this.o.model, pb, this.trainTemperature) : null,
      // top_entropy_quantile: the policy's token entropies before this update
      ent:
        this.o.config.loss_fn.top_entropy_quantile < 1
          ? completionEntropiesHost(this.o.model, pb, this.trainTemperature)
          : null,
    };
  }

  async validate(): Promise<StepResult> {
    const { config, model, tokenizer, validation } = this.o;
    const gen = config.policy.generation;
    const samples = await generate(model, tokenizer, validation.tokens, {
      ...gen,
      temperature: config.grpo.val_temperature,
      num_generations_per_prompt: 1,
      seed: config.seed,
    });
    const correct = samples.map((s) =>
      this.verify({
        prompt: '',
        completion: s.completionText,
        answer: validation.answer[s.promptIndex],
      }) === 1
        ? 1
        : 0,
    );
    const lengths = samples.map((s) => s.completionTokens.length);
    return {
      metrics: {
        'validation/accuracy': mean(correct),
        'validation/mean_completion_length': mean(lengths),
        'validation/num_samples': samples.length,
      },
      samples: samples.slice(0, config.logger.num_val_samples_to_print).map((s, i) => ({
        split: 'validation',
        prompt: validation.text[s.promptIndex],
        completion: s.completionText,
        answer: validation.answer[s.promptIndex],
        correct: correct[i],
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

  /** Frees the reference policy (the caller owns the policy and optimizer). */
  dispose(): void {
    this.reference?.dispose();
  }
}
