import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@rxrl/core';
import { readMetricsJsonl } from '@rxrl/logging';
import { TINY_POLICY_INIT } from './testing/tinyPolicyInit';
import { grpoSections } from './grpoConfig';
import { runGrpo } from './runGrpo';

beforeAll(async () => {
  await useBackend('wasm');
});

describe('runGrpo', () => {
  it('raises the reward of a trivially learnable task (first token a digit), with the reward replaced from the graph', async () => {
    const runDir = mkdtempSync(path.join(tmpdir(), 'grpo-learn-'));
    const config = grpoSections.validate({
      seed: 5,
      grpo: {
        num_prompts_per_step: 8,
        num_generations_per_prompt: 8,
        max_num_steps: 12,
        val_period: 0,
        val_at_start: false,
        val_at_end: false,
        max_val_samples: 4,
        num_samples_logged: 0,
      },
      policy: {
        init: TINY_POLICY_INIT,
        train_global_batch_size: 64,
        train_micro_batch_size: 64,
        generation: { max_new_tokens: 1 },
        optimizer: { name: 'torch.optim.AdamW', kwargs: { lr: 3e-2, weight_decay: 0 } },
      },
      loss_fn: { reference_policy_kl_penalty: 0 },
      data: { arithmetic: { max_digits: 1, operators: ['+'] }, num_train_prompts: 96 },
      logger: { progress: false, tensorboard_enabled: false },
      checkpointing: { enabled: false },
      graph: [
        { stage: 'rollout.generate' },
        { stage: 'reward.regex_match', options: { pattern: '^[0-9]' } },
        { stage: 'grouping.advantages' },
      ],
    });
    const r = await runGrpo(config, { runDir, resume: false });
    expect(r).toMatchObject({ step: 12, reason: 'max_num_steps' });
    const rewards = readMetricsJsonl(path.join(runDir, 'metrics.jsonl')).map(
      (m) => m['train/reward']!,
    );
    const head = (rewards[0]! + rewards[1]! + rewards[2]!) / 3;
    const tail = (rewards[9]! + rewards[10]! + rewards[11]!) / 3;
    // a random 103-token policy starts near 10/103; GRPO should push most mass onto digits
    expect(head).toBeLessThan(0.35);
    expect(tail).toBeGreaterThan(head + 0.3);
  });
});
