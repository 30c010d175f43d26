// Bad configuration through the CLI: every run command refuses wrong types, out-of-range
// values and contradictions with exit 2 and the key path, before any backend or model work.
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli';
import type { CliIo } from '../../src/io';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    out: (t) => void out.push(t),
    err: (t) => void err.push(t),
    env: {},
    cwd: root,
  };
  const code = await runCli(args, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const recipe = {
  sft: 'configs/sft_arithmetic.yaml',
  dpo: 'configs/dpo_arithmetic.yaml',
  grpo: 'configs/grpo_arithmetic.yaml',
};
type Algo = keyof typeof recipe;

// [algorithms, override(s), the line the error must contain]
const cases: [Algo[], string[], string][] = [
  [
    ['sft', 'dpo', 'grpo'],
    ['policy.optimizer.kwargs.lr=-1e-4'],
    'command line policy.optimizer.kwargs.lr: expected a number > 0, got -0.0001',
  ],
  [
    ['sft'],
    ['policy.optimizer.kwargs.lrr=1'],
    'command line policy.optimizer.kwargs.lrr: not a keyword argument of torch.optim.AdamW, got 1',
  ],
  [
    ['sft'],
    ['policy.optimizer.kwargs.betas=[0.9,1.5]'],
    'command line policy.optimizer.kwargs.betas.1: expected a number < 1, got 1.5',
  ],
  [
    ['dpo'],
    ['policy.optimizer.name=Adagrad'],
    'command line policy.optimizer.name: expected torch.optim.AdamW, Adam or SGD, got "Adagrad"',
  ],
  [
    ['sft', 'dpo', 'grpo'],
    ['policy.train_micro_batch_size=abc'],
    'command line policy.train_micro_batch_size: expected an integer',
  ],
  [
    ['sft', 'dpo', 'grpo'],
    ['policy.train_global_batch_size=10', 'policy.train_micro_batch_size=4'],
    'policy.train_global_batch_size: train_global_batch_size (10) must be a multiple of train_micro_batch_size (4)',
  ],
  [['sft', 'dpo', 'grpo'], ['policy.max_grad_norm=0'], 'command line policy.max_grad_norm:'],
  [['sft', 'dpo', 'grpo'], ['policy.on_nonfinite=ignore'], 'command line policy.on_nonfinite:'],
  [['sft', 'dpo', 'grpo'], ['seed=-1'], 'command line seed:'],
  [
    ['sft', 'dpo', 'grpo'],
    ['checkpointing.save_period=0'],
    'command line checkpointing.save_period:',
  ],
  [['sft'], ['sft.max_num_steps=0'], 'command line sft.max_num_steps:'],
  [['sft'], ['data.loss_mask=everything'], 'command line data.loss_mask:'],
  [
    ['dpo'],
    ['dpo.reference_policy_kl_penalty=-0.1'],
    'command line dpo.reference_policy_kl_penalty:',
  ],
  [['dpo'], ['dpo.label_smoothing=0.7'], 'command line dpo.label_smoothing:'],
  [
    ['grpo'],
    ['grpo.num_generations_per_prompt=1'],
    'command line grpo.num_generations_per_prompt: expected an integer >= 2, got 1',
  ],
  [
    ['grpo'],
    ['loss_fn.ratio_clip_min=1'],
    'command line loss_fn.ratio_clip_min: expected a number < 1, got 1',
  ],
  [
    ['grpo'],
    ['loss_fn.ratio_clip_min=-0.1'],
    'command line loss_fn.ratio_clip_min: expected a number >= 0, got -0.1',
  ],
  [
    ['grpo'],
    ['loss_fn.use_cispo=true', 'loss_fn.ratio_clip_c=3'],
    'loss_fn.ratio_clip_c: use_cispo is incompatible with dual clipping; set ratio_clip_c to null',
  ],
  [
    ['grpo'],
    ['policy.generation.temperature=-1'],
    'command line policy.generation.temperature: expected a number >= 0, got -1',
  ],
  [
    ['grpo'],
    [
      'grpo.num_prompts_per_step=3',
      'grpo.num_generations_per_prompt=2',
      'policy.train_global_batch_size=4',
      'policy.train_micro_batch_size=4',
    ],
    'command line policy.train_global_batch_size: must divide grpo.num_prompts_per_step × grpo.num_generations_per_prompt = 3 × 2 = 6 samples per step, got 4',
  ],
  [['grpo'], ['env.math=5'], 'command line env.math: expected a mapping'],
  [
    ['grpo'],
    ['logger.tensorboard_enabled=maybe'],
    'command line logger.tensorboard_enabled: expected a boolean',
  ],
];

describe('bad configuration exits 2 with the key path, before any work', () => {
  for (const [algos, overrides, line] of cases) {
    for (const algo of algos) {
      it(`${algo} ${overrides.join(' ')}`, async () => {
        const r = await cli([
          algo,
          '--config',
          recipe[algo],
          ...overrides,
          '--run-dir',
          '/nonexistent/never-created',
        ]);
        expect(r.code).toBe(2);
        expect(r.err).toContain(line);
        // nothing ran: no backend line, no run directory
        expect(r.out).toBe('');
      });
    }
  }
});

describe('the real binary', () => {
  it('rxrl grpo … grpo.num_generations_per_prompt=1 exits 2 naming the key', async () => {
    const r = await new Promise<{ code: number; stderr: string; stdout: string }>((resolve) => {
      execFile(
        process.execPath,
        [
          'apps/cli/bin/rxrl.js',
          'grpo',
          '--config',
          'configs/grpo_arithmetic.yaml',
          'grpo.num_generations_per_prompt=1',
        ],
        { cwd: root, timeout: 60_000 },
        (e, stdout, stderr) =>
          resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, stdout, stderr }),
      );
    });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'rxrl grpo: command line grpo.num_generations_per_prompt: expected an integer >= 2, got 1\n',
    );
  });
});
