import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { RecordBatch } from 'apache-arrow';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@rxrl/core';
import { readMetricsJsonl } from '@rxrl/logging';
import { runTraining } from '@rxrl/pipeline';
import { buildOptimizer } from '../shared/buildOptimizer';
import { loadPolicy } from '../shared/loadPolicy';
import { TINY_POLICY_INIT } from './testing/tinyPolicyInit';
import { withoutTimings } from './testing/withoutTimings';
import { grpoSections, type GrpoConfig } from './grpoConfig';
import { clippedPgLoss } from '@rxrl/loss';
import { GrpoTrainer, type GrpoObjective } from './grpoTrainer';
import { loadPromptSets, promptBatches } from './promptSet';

beforeAll(async () => {
  await useBackend('wasm');
});

/** A tiny fresh policy on 1-digit addition; `extra` overrides sections. */
function tinyConfig(extra: Record<string, unknown> = {}): GrpoConfig {
  const base: Record<string, any> = {
    seed: 3,
    grpo: {
      num_prompts_per_step: 4,
      num_generations_per_prompt: 4,
      max_num_steps: 3,
      val_period: 0,
      val_at_start: false,
      val_at_end: false,
      // one-digit sums: 100 problems, about 7 of them held out (validation never repeats one)
      max_val_samples: 6,
    },
    policy: {
      init: TINY_POLICY_INIT,
      train_global_batch_size: 16,
      train_micro_batch_size: 8,
      generation: { max_new_tokens: 3 },
      optimizer: { name: 'torch.optim.AdamW', kwargs: { lr: 1e-2, weight_decay: 0 } },
    },
    loss_fn: { reference_policy_kl_penalty: 0.01 },
    data: { arithmetic: { max_digits: 1, operators: ['+'] }, num_train_prompts: 64 },
    logger: { progress: false, tensorboard_enabled: false },
  };
  for (const [k, v] of Object.entries(extra))
    base[k] = typeof v === 'object' && v !== null && !Array.isArray(v) ? { ...base[k], ...v } : v;
  return grpoSections.validate(base);
}

async function setup(config: GrpoConfig, objective?: GrpoObjective) {
  const policy = await loadPolicy(config.policy, config.seed);
  const optimizer = buildOptimizer(policy.model, config.policy);
  const prompts = await loadPromptSets(config, policy.tokenizer);
  const trainer = new GrpoTrainer({
    ...(objective ? { objective } : {}),
    config,
    model: policy.model,
    tokenizer: policy.tokenizer,
    optimizer,
    validation: prompts.validation,
  });
  const data = promptBatches(prompts.train, config.grpo.num_prompts_per_step, config.seed, true);
  const dispose = () => {
    trainer.dispose();
    optimizer.dispose();
    policy.model.dispose();
  };
  return { policy, optimizer, prompts, trainer, data, dispose };
}

/** `train/token_mult_prob_error` of one step on the first batch: 1 when training scores samples as the sampler did. */
async function firstStepProbError(config: GrpoConfig): Promise<number> {
  const { trainer, data, dispose } = await setup(config);
  try {
    const [batch] = [...(data.batches(0, 0) as Iterable<RecordBatch>)];
    return (await trainer.trainStep(batch!, 1)).metrics['train/token_mult_prob_error']!;
  } finally {
    dispose();
  }
}

describe('GrpoTrainer', () => {
  it('a step gives a finite loss and every metric, two updates per rollout, and no tensor leak over steps', async () => {
    // 16 samples per step, global batch 8: two optimizer updates per rollout (π_old fixed first)
    const config = tinyConfig({
      policy: { ...tinyConfig().policy, train_global_batch_size: 8, train_micro_batch_size: 4 },
    });
    const { trainer, data, dispose } = await setup(config);
    const batches = [...(data.batches(0, 0) as Iterable<RecordBatch>)].slice(0, 4);
    const first = await trainer.trainStep(batches[0]!, 1);
    for (const k of [
      'train/loss',
      'train/reward',
      'train/accuracy',
      'train/kl_penalty',
      'train/grad_norm',
      'train/lr',
      'train/probs_ratio',
      'train/token_mult_prob_error',
      'train/mean_completion_length',
      'performance/tokens_per_sec',
      'timing/rollout_and_reward',
      'timing/policy_training',
      'timing/generation_s',
      'timing/policy_and_reference_logprobs',
      'timing/loss_and_backward',
      'timing/optimizer_step',
    ]) {
      expect(first.metrics[k], k).toBeTypeOf('number');
      expect(Number.isFinite(first.metrics[k]), k).toBe(true);
    }
    // policy_training by part: π_ref (KL on) and π_old (two updates) passes, two backward
    // passes and two updates all take time, and the parts fit inside policy_training
    const parts = ['policy_and_reference_logprobs', 'loss_and_backward', 'optimizer_step'].map(
      (p) => first.metrics[`timing/${p}`]!,
    );
    for (const t of parts) expect(t).toBeGreaterThan(0);
    // (+1e-9 s: the parts are differences of the same clock readings, and their float sum
    // can round one ulp above the whole)
    expect(parts.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(
      first.metrics['timing/policy_training']! + 1e-9,
    );
    expect(first.metrics['train/lr']).toBeCloseTo(1e-2, 8);
    // nothing changed between generation and the first update: the generation log-probs are the training ones
    expect(first.metrics['train/token_mult_prob_error']).toBeGreaterThanOrEqual(1);
    expect(first.metrics['train/token_mult_prob_error']).toBeLessThan(1 + 1e-4);
    expect(first.samples).toHaveLength(4);
    const before = tf.memory().numTensors;
    for (let s = 2; s <= 4; s++) await trainer.trainStep(batches[s - 1]!, s);
    expect(tf.memory().numTensors).toBe(before);
    const v = await trainer.validate();
    expect(v.metrics['validation/num_samples']).toBe(6);
    expect(tf.memory().numTensors).toBe(before);
    dispose();
  });

  it("semantic grouping from the recipe's keys: the policy embeds each prompt once, groups are pooled, no tensor leak", async () => {
    // 4 prompts × 4 generations a step; at threshold −1 every prompt is similar enough, so a
    // group (group_size 8) is the anchor prompt's 4 samples and the 4 of the prompt most
    // similar to it (one prompt's samples share its embedding), the rest the other group
    const config = tinyConfig({
      grpo: {
        ...tinyConfig().grpo,
        group_strategy: 'semantic',
        grouping: { similarity_threshold: -1, group_size: 8 },
      },
    });
    const { trainer, data, dispose } = await setup(config);
    const batches = [...(data.batches(0, 0) as Iterable<RecordBatch>)].slice(0, 3);
    const first = (await trainer.trainStep(batches[0]!, 1)).metrics;
    expect(first['train/grouping/num_groups']).toBe(2);
    expect(first['train/grouping/group_size_mean']).toBe(8);
    expect(first['train/grouping/embedding_cache_misses']).toBe(4);
    expect(first['train/grouping/embedding_cache_hits']).toBe(0);
    expect(first['train/grouping/embedding_forward_passes']).toBe(1);
    expect(first['train/grouping/embedding_spread']).toBeGreaterThan(0);
    expect(Number.isFinite(first['train/loss']!)).toBe(true);
    const before = tf.memory().numTensors;
    for (let s = 2; s <= 3; s++) await trainer.trainStep(batches[s - 1]!, s);
    expect(tf.memory().numTensors).toBe(before);
    dispose();
  });

  it('entropy_coef and the debugging metrics: entropy, the loss by term, reward spread, per-layer gradient norms', async () => {
    const coef = 0.05;
    const config = tinyConfig({
      loss_fn: { reference_policy_kl_penalty: 0.01, entropy_coef: coef },
      logger: { progress: false, tensorboard_enabled: false, grad_norm_per_layer_every: 2 },
    });
    const { trainer, data, dispose } = await setup(config);
    const batches = [...(data.batches(0, 0) as Iterable<RecordBatch>)].slice(0, 2);
    const m = (await trainer.trainStep(batches[0]!, 1)).metrics;
    const vocab = trainer['o'].model.config.vocabSize as number;
    // entropy of a next-token distribution lies in (0, log V]
    expect(m['train/entropy']!).toBeGreaterThan(0);
    expect(m['train/entropy']!).toBeLessThanOrEqual(Math.log(vocab) + 1e-5);
    // token-level loss: the bonus is −c·(the same token mean)
    expect(m['train/entropy_loss']!).toBeCloseTo(-coef * m['train/entropy']!, 6);
    const parts = ['actor_loss', 'kl_loss', 'nll_loss', 'entropy_loss'].map(
      (k) => m[`train/${k}`]!,
    );
    expect(parts.reduce((a, b) => a + b, 0)).toBeCloseTo(m['train/loss']!, 6);
    expect(m['train/nll_loss']).toBe(0);
    expect(m['train/reward_min']!).toBeLessThanOrEqual(m['train/reward']!);
    expect(m['train/reward_max']!).toBeGreaterThanOrEqual(m['train/reward']!);
    expect(m['train/reward_std']!).toBeGreaterThanOrEqual(0);
    // the optimizer's first update (0) is on the cadence: one norm per layer, combining to the global one
    const layerNorms = Object.entries(m).filter(([k]) => k.startsWith('train/grad_norm/'));
    expect(layerNorms.map(([k]) => k)).toContain('train/grad_norm/layers.0');
    expect(Math.hypot(...layerNorms.map(([, v]) => v))).toBeCloseTo(m['train/grad_norm']!, 4);
    const m2 = (await trainer.trainStep(batches[1]!, 2)).metrics; // update 1: off the cadence
    expect(Object.keys(m2).some((k) => k.startsWith('train/grad_norm/'))).toBe(false);
    dispose();
  });

  it('the entropy term moves the policy entropy its way: c 0.5 keeps it at log V, c −0.5 (a penalty) lowers it', async () => {
    const entropyAfter = async (coef: number) => {
      const config = tinyConfig({
        grpo: { ...tinyConfig().grpo, max_num_steps: 4 },
        loss_fn: { reference_policy_kl_penalty: 0, entropy_coef: coef },
      });
      const { trainer, data, dispose } = await setup(config);
      const batches = [...(data.batches(0, 0) as Iterable<RecordBatch>)].slice(0, 4);
      const h: number[] = [];
      for (let s = 1; s <= 4; s++)
        h.push((await trainer.trainStep(batches[s - 1]!, s)).metrics['train/entropy']!);
      dispose();
      return h;
    };
    const low = await entropyAfter(-0.5);
    const high = await entropyAfter(0.5);
    // measured (wasm): c −0.5 4.628 4.619 4.577 4.463; c 0.5 4.628 4.628 4.629 4.631 (log V ≈ 4.63: the tiny fresh policy is near uniform)
    // same first rollout (same seed), so the first step's entropy is the same
    expect(high[0]).toBeCloseTo(low[0]!, 4);
    expect(high[3]!).toBeGreaterThan(low[3]! + 0.1);
    expect(high[3]!).toBeGreaterThanOrEqual(high[0]! - 1e-3);
  });

  it("at a rollout temperature ≠ 1 the training log-probs are the sampler's (token_mult_prob_error = 1)", async () => {
    const base = tinyConfig();
    const config = tinyConfig({
      policy: { ...base.policy, generation: { ...base.policy.generation, temperature: 0.6 } },
    });
    // training at T = 1 against samples drawn at T = 0.6 gives an error of several percent
    const error = await firstStepProbError(config);
    expect(error).toBeGreaterThanOrEqual(1);
    expect(error).toBeLessThan(1 + 1e-4);
  });

  it("a graph's own rollout temperature is the one training uses", async () => {
    const config = tinyConfig({
      graph: [
        { stage: 'rollout.generate', options: { temperature: 0.6 } },
        { stage: 'reward.math' },
        { stage: 'grouping.advantages' },
      ],
    });
    expect(config.policy.generation.temperature).toBe(1);
    const error = await firstStepProbError(config);
    expect(error).toBeGreaterThanOrEqual(1);
    expect(error).toBeLessThan(1 + 1e-4);
  });

  it('validation is a graph with the reward the recipe names, at the validation temperature', async () => {
    const graph = (reward: Record<string, unknown>) =>
      tinyConfig({
        graph: [
          { stage: 'rollout.generate', options: { max_new_tokens: 2 } },
          reward,
          { stage: 'grouping.advantages' },
        ],
      });
    const pass = async (config: GrpoConfig) => {
      const { trainer, dispose } = await setup(config);
      try {
        return await trainer.validate();
      } finally {
        dispose();
      }
    };
    // a verifier scoring 2 for right: accuracy counts rewards at 2, the mean reward is 2 × accuracy
    const math = await pass(graph({ stage: 'reward.math', options: { correct_reward: 2 } }));
    const accuracy = math.metrics['validation/accuracy']!;
    expect(math.metrics['validation/reward']).toBeCloseTo(2 * accuracy, 6);
    expect(math.metrics['validation/num_samples']).toBe(6);
    // the graph's max_new_tokens holds for validation too: greedy, one sample per prompt
    expect(math.metrics['validation/mean_completion_length']).toBeLessThanOrEqual(2);
    // a reward that is not a verifier: its mean, and no accuracy
    const length = await pass(
      graph({ stage: 'reward.length', options: { target_length: 1, max_length: 2 } }),
    );
    expect(length.metrics).not.toHaveProperty('validation/accuracy');
    expect(length.metrics['validation/reward']).toBeTypeOf('number');
    expect(length.samples![0]).toHaveProperty('reward');
    // a composite with a verifier component: accuracy from that component's column
    const composite = await pass(
      graph({
        stage: 'reward.composite',
        options: {
          components: [
            { name: 'answer', type: 'math' },
            {
              name: 'short',
              type: 'length',
              weight: 0.5,
              options: { target_length: 1, max_length: 2 },
            },
          ],
        },
      }),
    );
    expect(composite.metrics['validation/accuracy']).toBe(accuracy);
    expect(composite.samples![0]).toHaveProperty('correct');
  });

  it("train/accuracy is the recipe's verifier reward's, none without a verifier", async () => {
    const graph = (reward: Record<string, unknown>) =>
      tinyConfig({
        graph: [{ stage: 'rollout.generate' }, reward, { stage: 'grouping.advantages' }],
      });
    const step = async (config: GrpoConfig) => {
      const { trainer, data, dispose } = await setup(config);
      try {
        const [batch] = [...(data.batches(0, 0) as Iterable<RecordBatch>)];
        return (await trainer.trainStep(batch!, 1)).metrics;
      } finally {
        dispose();
      }
    };
    // exact match scoring 3 for right, 1 for wrong: accuracy = (mean reward − 1) / 2
    const exact = await step(
      graph({ stage: 'reward.exact_match', options: { correct_reward: 3, incorrect_reward: 1 } }),
    );
    expect(exact['train/accuracy']).toBeCloseTo((exact['train/reward']! - 1) / 2, 6);
    const length = await step(
      graph({ stage: 'reward.length', options: { target_length: 1, max_length: 2 } }),
    );
    expect(length).not.toHaveProperty('train/accuracy');
    expect(length['train/reward']).toBeTypeOf('number');
  });

  it('takes a custom objective: the default by hand gives the same step, an extra term another', async () => {
    const firstStep = async (objective?: GrpoObjective) => {
      const { trainer, data, dispose, policy } = await setup(tinyConfig(), objective);
      try {
        const [batch] = [...(data.batches(0, 0) as Iterable<RecordBatch>)];
        const m = (await trainer.trainStep(batch!, 1)).metrics;
        const w = [...policy.model.trainableVariables()].flatMap(([, v]) =>
          Array.from(v.dataSync()),
        );
        return { m, w };
      } finally {
        dispose();
      }
    };
    const steps: number[] = [];
    const byHand = await firstStep((inputs, ctx) => {
      steps.push(ctx.step);
      return clippedPgLoss(ctx.options, inputs);
    });
    const builtIn = await firstStep();
    expect(steps.length).toBeGreaterThan(0);
    expect(new Set(steps)).toEqual(new Set([1]));
    expect(withoutTimings([byHand.m])).toEqual(withoutTimings([builtIn.m]));
    expect(byHand.w).toEqual(builtIn.w);
    // an extra term (the completions' mean log-prob, SFT-like) moves the policy where the clipped
    // PG alone does not
    const extra = await firstStep((inputs, ctx) => {
      const r = clippedPgLoss(ctx.options, inputs);
      const nll = tf.neg(tf.mean(tf.mul(inputs.currLogprobs, inputs.tokenMask)));
      return { ...r, loss: tf.add(r.loss, nll) as tf.Scalar };
    });
    expect(extra.m['train/grad_norm']).toBeGreaterThan(builtIn.m['train/grad_norm']!);
    expect(extra.w).not.toEqual(builtIn.w);
  });

  it('schedules: a linear entropy_coef and a PI-controlled KL β are applied, logged, and resume exactly', async () => {
    const schedules = {
      'loss_fn.entropy_coef': { type: 'linear', start: 0.04, end: 0, start_step: 1, end_step: 3 },
      // β follows the previous step's measured KL: grows while train/kl_penalty is above 1e-4
      'loss_fn.reference_policy_kl_penalty': {
        type: 'pi',
        initial: 0.01,
        metric: 'train/kl_penalty',
        target: 1e-4,
        kp: 0.001,
        ki: 0.001,
        max: 1,
      },
    };
    const run = async (runDir: string, steps: number) => {
      const config = tinyConfig({
        grpo: { ...tinyConfig().grpo, max_num_steps: steps },
        loss_fn: { reference_policy_kl_penalty: 0.01 },
        schedules,
      });
      const s = await setup(config);
      try {
        await runTraining({
          runDir,
          algorithm: s.trainer,
          data: s.data,
          loop: { max_num_steps: steps, max_num_epochs: 1 },
          checkpointing: { save_period: 1 },
          progress: false,
          tensorboard: false,
          handleSignals: false,
          report: false,
        });
      } finally {
        s.dispose();
      }
    };
    const full = mkdtempSync(path.join(tmpdir(), 'grpo-sched-full-'));
    const cut = mkdtempSync(path.join(tmpdir(), 'grpo-sched-cut-'));
    await run(full, 3);
    await run(cut, 2);
    await run(cut, 3);
    const a = withoutTimings(readMetricsJsonl(path.join(full, 'metrics.jsonl')));
    const b = withoutTimings(readMetricsJsonl(path.join(cut, 'metrics.jsonl')));
    const ent = a.map((r) => r['train/schedule/loss_fn.entropy_coef']);
    expect(ent).toEqual([0.04, 0.02, 0]);
    // step 1 has no previous metrics: β starts at 0.01; then it moves with the measured KL
    const beta = a.map((r) => r['train/schedule/loss_fn.reference_policy_kl_penalty'] as number);
    expect(beta[0]).toBe(0.01);
    expect(beta[1]).not.toBe(beta[0]);
    expect(beta[2]).not.toBe(beta[1]);
    expect(a[0]!['train/entropy_loss']).toBeLessThan(0);
    expect(a[2]!['train/entropy_loss']).toBe(0);
    expect(b).toEqual(a);
  });

  it('a non-finite update under skip_step: the step is skipped, the graph is subscribed again and the next step trains', async () => {
    // step 2's objective is NaN: optimizer.step refuses the update and the graph's stream errors
    const nanAt =
      (bad: number): GrpoObjective =>
      (inputs, ctx) => {
        const r = clippedPgLoss(ctx.options, inputs);
        return ctx.step === bad ? { ...r, loss: tf.mul(r.loss, NaN) as tf.Scalar } : r;
      };
    const run = async (runDir: string, bad: number) => {
      const s = await setup(tinyConfig(), nanAt(bad));
      try {
        await runTraining({
          runDir,
          algorithm: s.trainer,
          data: s.data,
          loop: { max_num_steps: 3, max_num_epochs: 1, on_nonfinite: 'skip_step' },
          checkpointing: { enabled: false },
          progress: false,
          tensorboard: false,
          handleSignals: false,
          report: false,
        });
      } finally {
        s.dispose();
      }
    };
    const skipped = mkdtempSync(path.join(tmpdir(), 'grpo-skip-'));
    const never = mkdtempSync(path.join(tmpdir(), 'grpo-never-'));
    await run(skipped, 2);
    await run(never, 99);
    const a = withoutTimings(readMetricsJsonl(path.join(skipped, 'metrics.jsonl')));
    const b = withoutTimings(readMetricsJsonl(path.join(never, 'metrics.jsonl')));
    expect(a.map((r) => r['step'])).toEqual([1, 2, 3]);
    expect(a[1]).not.toHaveProperty('train/loss');
    expect(Object.keys(a[1]!).some((k) => k.startsWith('train/nonfinite'))).toBe(true);
    // step 1 as the unbroken run; step 3 samples from the policy step 2 left unchanged
    expect(a[0]).toEqual(b[0]);
    expect(Number.isFinite(a[2]!['train/loss'])).toBe(true);
    expect(a[2]!['train/reward']).toBeTypeOf('number');
  });

  it('resuming from a checkpoint gives the same metrics as an uninterrupted run', async () => {
    const run = async (runDir: string, steps: number) => {
      const config = tinyConfig({ grpo: { ...tinyConfig().grpo, max_num_steps: steps } });
      const s = await setup(config);
      try {
        await runTraining({
          runDir,
          algorithm: s.trainer,
          data: s.data,
          loop: { max_num_steps: steps, max_num_epochs: 1 },
          checkpointing: { save_period: 1 },
          progress: false,
          tensorboard: false,
          handleSignals: false,
          report: false,
        });
      } finally {
        s.dispose();
      }
    };
    const full = mkdtempSync(path.join(tmpdir(), 'grpo-full-'));
    const cut = mkdtempSync(path.join(tmpdir(), 'grpo-cut-'));
    await run(full, 3);
    await run(cut, 2); // stops after step 2 with a checkpoint
    await run(cut, 3); // a fresh model, optimizer and trainer resume at step 2
    const a = withoutTimings(readMetricsJsonl(path.join(full, 'metrics.jsonl')));
    const b = withoutTimings(readMetricsJsonl(path.join(cut, 'metrics.jsonl')));
    expect(b.map((r) => r['step'])).toEqual([1, 2, 3]);
    expect(b[2]).toEqual(a[2]);
    expect(b).toEqual(a);
  });
});
