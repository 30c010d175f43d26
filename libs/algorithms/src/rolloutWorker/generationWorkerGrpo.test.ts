import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@rxrl/core';
import { readMetricsJsonl } from '@rxrl/logging';
import { TINY_POLICY_INIT } from '../grpo/testing/tinyPolicyInit';
import { grpoSections } from '../grpo/grpoConfig';
import { runGrpo } from '../grpo/runGrpo';

beforeAll(async () => {
  await useBackend('wasm');
});

type Worker = { enabled: boolean; prefetch_batches?: number };
type Validation = { val_period: number; val_at_start: boolean; max_num_steps: number };
const NO_VALIDATION: Validation = { val_period: 0, val_at_start: false, max_num_steps: 4 };

const config = (worker: Worker, v: Validation = NO_VALIDATION) =>
  grpoSections.validate({
    seed: 5,
    grpo: {
      num_prompts_per_step: 4,
      num_generations_per_prompt: 4,
      ...v,
      val_at_end: false,
      max_val_samples: 4,
      num_samples_logged: 0,
      use_dynamic_sampling: true,
      generation_worker: worker,
    },
    policy: {
      init: TINY_POLICY_INIT,
      train_global_batch_size: 16,
      train_micro_batch_size: 16,
      generation: { max_new_tokens: 2 },
      optimizer: { name: 'torch.optim.AdamW', kwargs: { lr: 1e-2, weight_decay: 0 } },
    },
    loss_fn: { reference_policy_kl_penalty: 0, use_importance_sampling_correction: true },
    data: { arithmetic: { max_digits: 1, operators: ['+'] }, num_train_prompts: 64 },
    logger: { progress: false, tensorboard_enabled: false },
    checkpointing: { enabled: false },
    graph: [
      { stage: 'rollout.generate' },
      { stage: 'reward.regex_match', options: { pattern: '^[0-9]' } },
      { stage: 'grouping.advantages' },
    ],
  });

const LEARNING = ['train/reward', 'train/loss', 'train/grad_norm', 'train/num_valid_samples'];
const pick = (rows: Record<string, number>[]) =>
  rows.map((r) => Object.fromEntries(LEARNING.map((k) => [k, r[k]])));

async function run(worker: Worker, v: Validation = NO_VALIDATION) {
  const runDir = mkdtempSync(path.join(tmpdir(), 'grpo-worker-'));
  const r = await runGrpo(config(worker, v), { runDir, resume: false });
  expect(r).toMatchObject({ step: v.max_num_steps, reason: 'max_num_steps' });
  return readMetricsJsonl(path.join(runDir, 'metrics.jsonl'));
}

describe('runGrpo with grpo.generation_worker', () => {
  it('generating on the worker on request trains exactly as generating in-process', async () => {
    const local = await run({ enabled: false });
    const worker = await run({ enabled: true, prefetch_batches: 0 });
    const a = pick(local);
    const b = pick(worker);
    expect(b.map((r) => r['train/reward'])).toEqual(a.map((r) => r['train/reward']));
    expect(b.map((r) => r['train/num_valid_samples'])).toEqual(
      a.map((r) => r['train/num_valid_samples']),
    );
    b.forEach((r, i) => {
      expect(r['train/loss']).toBeCloseTo(a[i]!['train/loss']!, 5);
      expect(r['train/grad_norm']).toBeCloseTo(a[i]!['train/grad_norm']!, 4);
    });
    expect(worker.every((r) => r['train/generation_worker/prefetch_hits'] === 0)).toBe(true);
  });

  it('prefetching: every step after the first is served from batches generated ahead, at most a step or two stale', async () => {
    const rows = await run({ enabled: true, prefetch_batches: 2 });
    const hits = rows.map((r) => r['train/generation_worker/prefetch_hits']!);
    const misses = rows.map((r) => r['train/generation_worker/prefetch_misses']!);
    // step 1 has no request to copy the options from, so it generates on demand
    expect(misses[0]).toBeGreaterThan(0);
    expect(misses.slice(1)).toEqual([0, 0, 0]);
    expect(hits.slice(1).every((h) => h >= 1)).toBe(true);
    for (const r of rows.slice(1)) {
      expect(r['train/generation_worker/mean_staleness']).toBeGreaterThanOrEqual(0);
      expect(r['train/generation_worker/mean_staleness']).toBeLessThanOrEqual(2);
    }
    expect(rows.every((r) => Number.isFinite(r['train/loss']))).toBe(true);
  });

  it('validation (greedy, here on the main thread) leaves the prefetched training batches usable, and a run repeats exactly', async () => {
    // the bug this guards: greedy validation requests became the prefetch template, and the
    // batches drawn with it were never asked for yet held every prefetch place (94% misses)
    const v = { val_period: 2, val_at_start: true, max_num_steps: 6 };
    const rows = await run({ enabled: true, prefetch_batches: 2 }, v);
    const train = rows.filter((r) => r['train/loss'] !== undefined);
    expect(train).toHaveLength(6);
    const misses = train.map((r) => r['train/generation_worker/prefetch_misses']!);
    expect(misses.slice(1)).toEqual([0, 0, 0, 0, 0]);
    expect(train.slice(1).every((r) => r['train/generation_worker/prefetch_dropped'] === 0)).toBe(
      true,
    );
    expect(rows.filter((r) => r['validation/reward'] !== undefined)).toHaveLength(4);
    // which weights each batch is sampled with follows the program, not the threads' timing
    const again = await run({ enabled: true, prefetch_batches: 2 }, v);
    const twice = again.filter((r) => r['train/loss'] !== undefined);
    expect(pick(twice).map((r) => r['train/reward'])).toEqual(
      pick(train).map((r) => r['train/reward']),
    );
    twice.forEach((r, i) => expect(r['train/loss']).toBeCloseTo(train[i]!['train/loss']!, 6));
    expect(twice.map((r) => r['train/generation_worker/mean_staleness'])).toEqual(
      train.map((r) => r['train/generation_worker/mean_staleness']),
    );
  });
});
