/**
 * GRPO with a custom grouping strategy, registered by name and used from code:
 * samples of `prompts_per_group` prompts share one group, so each advantage is
 * measured against a baseline pooled over several prompts instead of one.
 * The per-step graph names the strategy through the `grouping.form_groups` stage;
 * everything else (generation, reward, loss, runner) is stock GRPO.
 *
 *   node --import tsx examples/grpo_custom_grouping.ts [runDir]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';
import { selectBackend } from '@rxrl/core';
import { registerGroupingStrategy } from '@rxrl/grouping';
import { grpoSections, runGrpo } from '@rxrl/algorithms';
import { readMetricsJsonl } from '@rxrl/logging';
import { exampleSteps } from './isMain';

// 1. The strategy: one group id per sample; prompts are pooled in order of first appearance.
registerGroupingStrategy(
  'pooled_prompts',
  (samples, options) => {
    const rank = new Map<number, number>();
    for (const p of samples.promptIds) if (!rank.has(p)) rank.set(p, rank.size);
    return Int32Array.from(samples.promptIds, (p) =>
      Math.floor(rank.get(p)! / options.prompts_per_group),
    );
  },
  z.strictObject({
    /** prompts whose samples share a group */ prompts_per_group: z.int().min(1).default(2),
  }),
);

// 2. A small GRPO recipe in code; the graph replaces the default grouping with the strategy.
await selectBackend('wasm');
const config = grpoSections.validate({
  seed: 1,
  grpo: {
    num_prompts_per_step: 8,
    num_generations_per_prompt: 4,
    max_num_steps: exampleSteps(4),
    val_period: 2,
    max_val_samples: 6, // one-digit sums: 100 problems, about 7 of them held out
  },
  policy: {
    init: { arch: 'llama', preset: 'tiny' },
    train_global_batch_size: 32,
    train_micro_batch_size: 16,
    generation: { max_new_tokens: 4 },
    optimizer: { name: 'torch.optim.AdamW', kwargs: { lr: 1e-3 } },
  },
  data: { arithmetic: { max_digits: 1, operators: ['+'] }, num_train_prompts: 64 },
  logger: { progress: false },
  graph: [
    { stage: 'rollout.generate' },
    { stage: 'reward.math' },
    {
      stage: 'grouping.form_groups',
      options: {
        strategy: 'pooled_prompts',
        options: { prompts_per_group: 2 },
        replace_group_id: true,
      },
    },
    { stage: 'grouping.advantages' },
  ],
});

// 3. Run it; metrics, samples, checkpoints and report.html land in the run directory.
const runDir = process.argv[2] ?? mkdtempSync(path.join(tmpdir(), 'rxrl-grpo-grouping-'));
const result = await runGrpo(config, { runDir, resume: false, log: console.log });
const rows = readMetricsJsonl(path.join(runDir, 'metrics.jsonl'));
for (const r of rows.filter((r) => r['step']! > 0)) {
  console.log(
    `step ${r['step']}: reward ${r['train/reward']!.toFixed(3)}, groups ${r['train/grouping/num_groups'] ?? '?'}, loss ${r['train/loss']!.toFixed(4)}`,
  );
}
console.log(`stopped: ${result.reason} after ${result.step} steps; report ${result.report}`);
