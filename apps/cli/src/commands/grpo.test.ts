import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli';
import { fakeIo as makeFakeIo } from '../testing/fakeIo';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-grpo-cmd-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const fakeIo = () => makeFakeIo(root);

// the shipped recipe on a fresh tiny model, shrunk to seconds
const tiny = [
  'policy.model_name=null',
  'policy.init={arch: llama, preset: tiny}',
  'policy.train_global_batch_size=8',
  'policy.train_micro_batch_size=8',
  'policy.generation.max_new_tokens=2',
  'grpo.num_prompts_per_step=4',
  'grpo.num_generations_per_prompt=2',
  'grpo.max_val_samples=4',
  'grpo.val_period=0',
  'data.num_train_prompts=32',
  // a random policy's groups are all wrong: dynamic sampling would find none
  'grpo.use_dynamic_sampling=false',
  'logger.progress=false',
  'logger.tensorboard_enabled=false',
];

describe('rxrl grpo', () => {
  it('configuration errors exit 2 naming every bad key', async () => {
    const { io, err } = fakeIo();
    expect(
      await runCli(
        [
          'grpo',
          '--config',
          'configs/grpo_arithmetic.yaml',
          'grpo.num_prompt_per_step=3',
          'policy.generation.temperature=-1',
          '--backend',
          'cpu',
        ],
        io,
      ),
    ).toBe(2);
    expect(err.join('\n')).toContain(
      'command line grpo.num_prompt_per_step: unknown key, got 3; did you mean `num_prompts_per_step`?',
    );
    expect(err.join('\n')).toContain(
      'command line policy.generation.temperature: expected a number >= 0, got -1',
    );
  });

  it('runs, checkpoints, and --resume continues from the run directory', async () => {
    const runDir = path.join(tmp, 'run');
    const first = fakeIo();
    expect(
      await runCli(
        [
          'grpo',
          '--config',
          'configs/grpo_arithmetic.yaml',
          ...tiny,
          'grpo.max_num_steps=2',
          '--run-dir',
          runDir,
          '--backend',
          'wasm',
        ],
        first.io,
      ),
    ).toBe(0);
    expect(first.out.at(-2)).toMatch(
      /^rxrl: max_num_steps after step 2 in [\d.]+ min; last validation accuracy \d\.\d{4}$/,
    );
    expect(fs.existsSync(path.join(runDir, 'policy', 'model.safetensors'))).toBe(true);
    expect(fs.existsSync(path.join(runDir, 'report.html'))).toBe(true);
    const second = fakeIo();
    expect(
      await runCli(
        [
          'grpo',
          '--config',
          'configs/grpo_arithmetic.yaml',
          ...tiny,
          'grpo.max_num_steps=3',
          '--run-dir',
          runDir,
          '--resume',
          '--backend',
          'wasm',
        ],
        second.io,
      ),
    ).toBe(0);
    expect(
      second.out.some((l) =>
        /^rxrl: resumed from .*step_00000002 \(step 2, epoch 0, batch 2\)$/.test(l),
      ),
    ).toBe(true);
    expect(second.out.at(-2)).toMatch(/^rxrl: max_num_steps after step 3 /);
    const steps = fs
      .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).step);
    expect(steps).toEqual([0, 1, 2, 3]);
  });
});
