// Resuming across the change that added the top-level `graph:` key (null: the keys'
// default graph) to every algorithm's resolved config: a run directory whose
// config.yaml was written before the key existed resumes, as does one written with
// it, and either way the resumed run logs the uninterrupted run's metrics.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, metricsRows, tinySft } from '../test/faults/tinySft';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-graph-key-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const TINY =
  'policy.init={arch: llama, preset: tiny, config_overrides: {hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 2, max_position_embeddings: 64}}';

/** `rxrl <algorithm>` for `steps` steps, a checkpoint every 2, into `runDir`. */
const recipes = {
  sft: (steps: number) => [
    'sft',
    '--config',
    'configs/sft_arithmetic.yaml',
    ...tinySft(steps),
    'checkpointing.save_period=2',
  ],
  grpo: (steps: number) => [
    'grpo',
    '--config',
    'configs/grpo_arithmetic.yaml',
    TINY,
    'policy.train_global_batch_size=16',
    'policy.train_micro_batch_size=8',
    'grpo.num_prompts_per_step=4',
    'grpo.num_generations_per_prompt=4',
    `grpo.max_num_steps=${steps}`,
    'grpo.val_at_start=false',
    'grpo.val_period=0',
    'grpo.val_at_end=false',
    'grpo.generation_worker.enabled=false',
    'data.num_train_prompts=64',
    'grpo.max_val_samples=8',
    'checkpointing.save_period=2',
  ],
};

const trainRows = (dir: string) =>
  metricsRows(dir)
    .filter((m) => m['train/loss'] !== undefined)
    .map((m) =>
      Object.fromEntries(
        // the steps' own metrics (a short run also validates at its end)
        Object.entries(m).filter(
          ([k]) => k === 'step' || (k.startsWith('train/') && !k.endsWith('busy_s')),
        ),
      ),
    );

describe.each(Object.entries(recipes))('rxrl %s resumes across the graph: key', (_, argv) => {
  const run = (dir: string, steps: number) =>
    cli([...argv(steps), '--run-dir', dir, '--backend', 'wasm']);

  it('from a config.yaml written without it, and with it, as the uninterrupted run', async () => {
    const reference = path.join(tmp, `${argv(1)[0]}-reference`);
    const ref = await run(reference, 6);
    expect(ref.err).toBe('');
    expect(ref.code).toBe(0);
    expect(trainRows(reference).map((m) => m['step'])).toEqual([1, 2, 3, 4, 5, 6]);
    for (const key of ['without', 'with'] as const) {
      const dir = path.join(tmp, `${argv(1)[0]}-${key}`);
      expect((await run(dir, 2)).code).toBe(0);
      const file = path.join(dir, 'config.yaml');
      const saved = fs.readFileSync(file, 'utf8');
      expect(saved).toMatch(/^graph: null$/m);
      // as an rxrl before the key wrote it
      if (key === 'without') fs.writeFileSync(file, saved.replace(/^graph: null\n/m, ''));
      const resumed = await run(dir, 6);
      expect(resumed.err).toBe('');
      expect(resumed.code).toBe(0);
      expect(resumed.out).toMatch(/rxrl: resumed from .*step_00000002 \(step 2, epoch /);
      if (key === 'without') expect(resumed.out).toContain('graph: (absent) -> null');
      expect(trainRows(dir)).toEqual(trainRows(reference));
    }
  });
});
