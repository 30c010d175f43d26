// A recipe's `graph:` drives SFT and DPO at run time: the nodes' own options win over
// the keys (the optimizer is built from the optimizer.step node), and π_ref is loaded
// only for a graph that has a reference node.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@rxrl/core';
import { dpoSections, runDpo, runSft, sftSections } from '../src/index';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-step-graphs-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const policy = {
  init: {
    preset: 'tiny',
    config_overrides: { hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1 },
  },
  tokenizer: { name: 'builtin' },
  train_global_batch_size: 4,
  train_micro_batch_size: 2,
  max_total_sequence_length: 32,
  optimizer: { name: 'torch.optim.AdamW', kwargs: { lr: 1e-4 } },
};
const data = { arithmetic: { max_digits: 1 }, num_train_examples: 16, num_val_examples: 4 };
const loop = { max_num_steps: 2, val_at_start: false, val_period: 0 };

function metrics(runDir: string): Record<string, number>[] {
  return fs
    .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, number>);
}

beforeAll(async () => {
  await useBackend('wasm');
});

describe('SFT and DPO graphs from a recipe', () => {
  it("sft: the optimizer.step node's optimizer wins over policy.optimizer", async () => {
    const config = sftSections.validate({
      seed: 1,
      policy,
      sft: { ...loop, val_generation: { num_prompts: 0 } },
      data,
      checkpointing: { enabled: false },
      graph: [
        { stage: 'loss.nll', options: { micro_batch_size: 4 } },
        {
          stage: 'optimizer.step',
          options: { optimizer: { name: 'torch.optim.AdamW', kwargs: { lr: 0.003 } } },
        },
      ],
    });
    const runDir = path.join(tmp, 'sft');
    const r = await runSft(config, { runDir, resume: false });
    expect(r.steps).toBe(2);
    expect(metrics(runDir).map((m) => m['train/lr'])).toEqual([0.003, 0.003]);
  });

  it('dpo: a reference-free loss node needs no reference node; its options win over the dpo keys', async () => {
    const base = {
      seed: 1,
      policy,
      dpo: { ...loop, reference_policy_kl_penalty: 0.1 },
      data,
      checkpointing: { enabled: false },
    };
    // the dpo keys' graph reads π_ref (dpo.reference_free is false); this node does not
    const config = dpoSections.validate({
      ...base,
      graph: [
        { stage: 'loss.dpo', options: { reference_free: true } },
        { stage: 'optimizer.step' },
      ],
    });
    const runDir = path.join(tmp, 'dpo');
    await runDpo(config, { runDir, resume: false });
    const first = metrics(runDir)[0]!;
    // reference-free, the logged rewards are the policy's log-probs: the margin is their gap
    const gap = first['train/logps_chosen_mean']! - first['train/logps_rejected_mean']!;
    expect(Math.abs(gap)).toBeGreaterThan(0.1);
    expect(first['train/reward_margin']).toBeCloseTo(gap, 4);
    // without a graph the keys make one with π_ref: the same first step has margin 0
    const keyed = path.join(tmp, 'dpo-keys');
    await runDpo(dpoSections.validate(base), { runDir: keyed, resume: false });
    expect(metrics(keyed)[0]!['train/reward_margin']).toBe(0);
  });
});
