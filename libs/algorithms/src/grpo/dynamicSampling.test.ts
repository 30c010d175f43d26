import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@rxrl/core';
import { readMetricsJsonl } from '@rxrl/logging';
import { TINY_POLICY_INIT } from './testing/tinyPolicyInit';
import { withoutTimings } from './testing/withoutTimings';
import { grpoSections } from './grpoConfig';
import { runGrpo } from './runGrpo';

beforeAll(async () => {
  await useBackend('wasm');
});

/** A fresh tiny policy whose reward is "the first token is a digit" (~10% at the start, so many groups are all 0). */
function config(pattern: string, grpo: Record<string, unknown>) {
  return grpoSections.validate({
    seed: 4,
    grpo: {
      num_prompts_per_step: 4,
      num_generations_per_prompt: 4,
      max_num_steps: 3,
      val_period: 0,
      val_at_start: false,
      val_at_end: false,
      max_val_samples: 4,
      num_samples_logged: 0,
      use_dynamic_sampling: true,
      ...grpo,
    },
    policy: {
      init: TINY_POLICY_INIT,
      train_global_batch_size: 16,
      train_micro_batch_size: 16,
      generation: { max_new_tokens: 1 },
      optimizer: { name: 'torch.optim.AdamW', kwargs: { lr: 1e-3, weight_decay: 0 } },
    },
    loss_fn: { reference_policy_kl_penalty: 0 },
    data: { arithmetic: { max_digits: 1, operators: ['+'] }, num_train_prompts: 96 },
    logger: { progress: false, tensorboard_enabled: false },
    graph: [
      { stage: 'rollout.generate' },
      { stage: 'reward.regex_match', options: { pattern } },
      { stage: 'grouping.advantages' },
    ],
  });
}

describe('GRPO dynamic sampling', () => {
  it('refills each step to num_prompts_per_step groups whose rewards differ, and the data cursor counts every batch', async () => {
    const runDir = mkdtempSync(path.join(tmpdir(), 'grpo-ds-'));
    const r = await runGrpo(config('^[0-9]', { batch_multiplier: 1.5 }), {
      runDir,
      resume: false,
    });
    expect(r).toMatchObject({ step: 3, reason: 'max_num_steps' });
    const rows = readMetricsJsonl(path.join(runDir, 'metrics.jsonl'));
    expect(rows).toHaveLength(3);
    for (const m of rows) {
      expect(m['train/dynamic_sampling_kept_groups']).toBe(4);
      // every trained sample belongs to a group with differing rewards
      expect(m['train/num_valid_samples']).toBe(16);
      expect(m['train/dynamic_sampling_kept_fraction']).toBeGreaterThan(0);
      expect(m['train/dynamic_sampling_kept_fraction']).toBeLessThan(1);
    }
    const gens = rows.map((m) => m['train/dynamic_sampling_num_gen_batches']!);
    // at ~10% reward most 4-sample groups are all 0: some step needs more than one batch of 6 prompts
    expect(Math.max(...gens)).toBeGreaterThan(1);
    const ckpts = path.join(runDir, 'checkpoints');
    const last = readdirSync(ckpts).sort().at(-1)!;
    const state = JSON.parse(readFileSync(path.join(ckpts, last, 'runner.json'), 'utf8'));
    expect(state).toMatchObject({ step: 3, epoch: 0, position: gens.reduce((a, b) => a + b, 0) });
  });

  it('a resumed run refills with the same batches and samples as an uninterrupted one', async () => {
    const full = mkdtempSync(path.join(tmpdir(), 'grpo-ds-full-'));
    const cut = mkdtempSync(path.join(tmpdir(), 'grpo-ds-cut-'));
    await runGrpo(config('^[0-9]', { max_num_steps: 3 }), { runDir: full, resume: false });
    await runGrpo(config('^[0-9]', { max_num_steps: 2 }), { runDir: cut, resume: false });
    const resumed = await runGrpo(config('^[0-9]', { max_num_steps: 3 }), {
      runDir: cut,
      resume: true,
    });
    expect(resumed.resumedFrom).toBe(2);
    const a = withoutTimings(readMetricsJsonl(path.join(full, 'metrics.jsonl')));
    const b = withoutTimings(readMetricsJsonl(path.join(cut, 'metrics.jsonl')));
    expect(b.map((r) => r['step'])).toEqual([1, 2, 3]);
    expect(b).toEqual(a);
  });

  it('fails with the setting to change when no group varies within dynamic_sampling_max_gen_batches', async () => {
    const runDir = mkdtempSync(path.join(tmpdir(), 'grpo-ds-'));
    await expect(
      runGrpo(config('^never$', { dynamic_sampling_max_gen_batches: 3 }), {
        runDir,
        resume: false,
      }),
    ).rejects.toThrow(/after 3 generation batches \(grpo\.dynamic_sampling_max_gen_batches\)/);
  });
});
