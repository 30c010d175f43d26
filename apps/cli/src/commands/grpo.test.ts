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
          '--export',
          path.join(tmp, 'exported'),
          '--backend',
          'wasm',
        ],
        first.io,
      ),
    ).toBe(0);
    // what runs, first; what it came to, last
    expect(first.out[0]).toBe(
      'rxrl grpo: GRPO on builtin:arithmetic (+ - on 1-2 digit operands, uniform) from a fresh llama tiny model (random weights), 2 steps',
    );
    expect(first.out.slice(1, 6).join('\n')).toMatch(
      /^rxrl: backend wasm .*\nrxrl: memory: grpo needs about [\d.]+ MiB of 4\.00 GiB .*\nrxrl: activation checkpointing off: auto: keeping activations \(keeping them needs about [\d.]+ MiB, no more than 80% of 4\.00 GiB\)\nrxrl: expected duration: .*\nrxrl: run directory .*run\nrxrl: resolved config saved to .*run\/config\.yaml \(--print-config prints it\)$/,
    );
    const rows = fs
      .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, number>);
    const acc = rows.filter((r) => r['validation/accuracy'] !== undefined);
    expect(acc.map((r) => r['step'])).toEqual([0, 2]);
    expect(first.out.slice(-3)).toEqual([
      expect.stringMatching(/^rxrl: max_num_steps after step 2 in [\d.]+ min$/),
      `rxrl: held-out accuracy ${acc[0]!['validation/accuracy']!.toFixed(4)} (step 0) -> ${acc[1]!['validation/accuracy']!.toFixed(4)} (step 2)`,
      `rxrl: run directory ${runDir}; policy ${path.join(runDir, 'policy')}; report ${path.join(runDir, 'report.html')}`,
    ]);
    // --export writes the same policy again where asked, with its record
    for (const f of ['config.json', 'model.safetensors', 'rxrl_training.json'])
      expect(fs.readFileSync(path.join(tmp, 'exported', f))).toEqual(
        fs.readFileSync(path.join(runDir, 'policy', f)),
      );
    // the policy records its task, so rxrl eval scores it on the same one
    const record = JSON.parse(
      fs.readFileSync(path.join(runDir, 'policy', 'rxrl_training.json'), 'utf8'),
    ) as Record<string, unknown>;
    expect(record).toMatchObject({
      algorithm: 'grpo',
      dataset: 'builtin:arithmetic',
      rows: 'grpo',
      num_train: 32,
      start_model: null,
      start: null,
    });
    expect(record['arithmetic']).toMatchObject({
      operators: ['+', '-'],
      operand_sampling: 'uniform',
    });
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
    expect(second.out.at(-3)).toMatch(/^rxrl: max_num_steps after step 3 /);
    // a longer run is a resume, not a new experiment: the earlier config is kept beside
    expect(second.out).toContain(
      `rxrl: config changed since the earlier run here (grpo.max_num_steps: 2 -> 3); its config.yaml is kept as ${path.join(runDir, 'config.1.yaml')}`,
    );
    expect(fs.readFileSync(path.join(runDir, 'config.1.yaml'), 'utf8')).toMatch(
      /max_num_steps: 2\n/,
    );
    const steps = fs
      .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).step);
    expect(steps).toEqual([0, 1, 2, 3]);

    // a changed learning rate would make the rest a different run: refused, naming the key
    // (0.00005 is configs/grpo_arithmetic.yaml's lr)
    const third = fakeIo();
    const lr = 'policy.optimizer.kwargs.lr=0.001';
    const args = [
      'grpo',
      '--config',
      'configs/grpo_arithmetic.yaml',
      ...tiny,
      'grpo.max_num_steps=3',
    ];
    expect(await runCli([...args, lr, '--run-dir', runDir, '--backend', 'wasm'], third.io)).toBe(2);
    expect(third.err.join('\n')).toContain('policy.optimizer.kwargs.lr: 0.00005 -> 0.001');
    expect(third.err.join('\n')).not.toContain('max_num_steps');
    expect(
      fs
        .readdirSync(runDir)
        .filter((f) => /^config.*\.yaml$/.test(f))
        .sort(),
    ).toEqual(['config.1.yaml', 'config.yaml']);
    // a fresh start there keeps the earlier config as config.2.yaml
    const fourth = fakeIo();
    const fresh = [...args, lr, 'grpo.max_num_steps=1', '--no-resume', '--run-dir', runDir];
    expect(await runCli([...fresh, '--backend', 'wasm'], fourth.io)).toBe(0);
    expect(fs.readFileSync(path.join(runDir, 'config.2.yaml'), 'utf8')).toMatch(/lr: 0\.00005\n/);
    expect(fs.readFileSync(path.join(runDir, 'config.yaml'), 'utf8')).toMatch(/lr: 0\.001\n/);
  });

  it('--run-dir at a file, or under one, is our own usage error', async () => {
    const file = path.join(tmp, 'not-a-dir');
    fs.writeFileSync(file, 'mine');
    for (const dir of [file, path.join(file, 'run')]) {
      const { io, err } = fakeIo();
      const args = ['grpo', '--config', 'configs/grpo_arithmetic.yaml', ...tiny, '--run-dir', dir];
      expect(await runCli([...args, '--backend', 'wasm'], io)).toBe(2);
      expect(err.join('\n')).toContain(
        `--run-dir ${dir}: ${file} is a file, not a directory; choose another run directory`,
      );
      expect(err.join('\n')).not.toContain('EEXIST');
    }
    expect(fs.readFileSync(file, 'utf8')).toBe('mine');
  });
});
