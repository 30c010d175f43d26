import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli';
import { fakeIo as makeFakeIo } from '../testing/fakeIo';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-sft-dpo-cmd-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const fakeIo = () => makeFakeIo(root);

describe('rxrl sft / rxrl dpo', () => {
  it('configuration errors exit 2 naming the bad key', async () => {
    const { io, err } = fakeIo();
    expect(
      await runCli(
        [
          'sft',
          '--config',
          'configs/sft_arithmetic.yaml',
          'sft.max_num_stepz=3',
          '--backend',
          'cpu',
        ],
        io,
      ),
    ).toBe(2);
    expect(err.join('\n')).toContain(
      'sft.max_num_stepz: unknown key, got 3; did you mean `max_num_steps`?',
    );
    const d = fakeIo();
    expect(
      await runCli(
        [
          'dpo',
          '--config',
          'configs/dpo_arithmetic.yaml',
          'dpo.loss_type=sigmod',
          '--backend',
          'cpu',
        ],
        d.io,
      ),
    ).toBe(2);
    expect(d.err.join('\n')).toContain('dpo.loss_type');
    // the flags of rxrl grpo: --resume requires a checkpoint, and contradicts --no-resume
    for (const algorithm of ['sft', 'dpo']) {
      const r = fakeIo();
      const args = [algorithm, '--config', `configs/${algorithm}_arithmetic.yaml`, '--resume'];
      expect(await runCli([...args, '--no-resume'], r.io)).toBe(2);
      expect(r.err.join('\n')).toContain('--resume and --no-resume contradict each other');
    }
  });

  it('sft trains, exports a loadable HF directory; dpo starts from it and resumes from its checkpoint', async () => {
    const sftDir = path.join(tmp, 'sft');
    const exportDir = path.join(tmp, 'export');
    const s = fakeIo();
    const sftArgs = [
      'sft',
      '--config',
      'configs/sft_arithmetic.yaml',
      '--run-dir',
      sftDir,
      '--export',
      exportDir,
      '--backend',
      'wasm',
    ];
    const small = [
      'sft.max_num_steps=2',
      'sft.val_period=1',
      'data.num_train_examples=128',
      'data.num_val_examples=16',
      'sft.val_generation.num_prompts=4',
    ];
    expect(await runCli([...sftArgs, ...small], s.io)).toBe(0);
    expect(s.out.join('\n')).toMatch(
      /rxrl: held-out loss \d+\.\d+ \(step 0\) -> \d+\.\d+ \(step 2\)\nrxrl: held-out accuracy \d\.\d+ \(step 0\) -> \d\.\d+ \(step 2\)\nrxrl: run directory .*sft; policy .*sft\/final_model; report .*sft\/report\.html$/,
    );
    // the export records the task it learned (SFT rows of the built-in task)
    expect(
      JSON.parse(fs.readFileSync(path.join(exportDir, 'rxrl_training.json'), 'utf8')),
    ).toMatchObject({ algorithm: 'sft', rows: 'sft', num_train: 128, start_model: null });
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'])
      expect(fs.existsSync(path.join(exportDir, f))).toBe(true);
    const rows = fs
      .readFileSync(path.join(sftDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows.map((r) => r.step)).toEqual([0, 1, 2]);
    expect(rows[2]['validation/loss']).toBeLessThan(rows[0]['validation/loss']);

    const dpoDir = path.join(tmp, 'dpo');
    const dpoArgs = [
      'dpo',
      '--config',
      'configs/dpo_arithmetic.yaml',
      '--run-dir',
      dpoDir,
      '--backend',
      'wasm',
      `policy.model_name=${exportDir}`,
    ];
    const dsmall = [
      'dpo.val_period=1',
      'data.num_train_examples=64',
      'data.num_val_examples=16',
      'checkpointing.save_period=1',
    ];
    const d1 = fakeIo();
    expect(await runCli([...dpoArgs, ...dsmall, 'dpo.max_num_steps=1'], d1.io)).toBe(0);
    const d2 = fakeIo();
    expect(await runCli([...dpoArgs, ...dsmall, 'dpo.max_num_steps=2'], d2.io)).toBe(0);
    expect(d2.out.join('\n')).toMatch(/resum/i);
    // the DPO policy's record keeps the SFT run it started from: both runs' problems count as seen
    expect(
      JSON.parse(fs.readFileSync(path.join(dpoDir, 'final_model', 'rxrl_training.json'), 'utf8')),
    ).toMatchObject({
      algorithm: 'dpo',
      rows: 'preference',
      start_model: exportDir,
      start: { algorithm: 'sft', rows: 'sft', num_train: 128 },
    });
    const drows = fs
      .readFileSync(path.join(dpoDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(drows.map((r) => r.step)).toEqual([0, 1, 2]);
    for (const k of [
      'train/loss',
      'train/preference_loss',
      'train/sft_loss',
      'train/accuracy',
      'train/rewards_chosen_mean',
      'train/rewards_rejected_mean',
      'train/reward_margin',
      'validation/accuracy',
      'validation/reward_margin',
    ]) {
      expect(Number.isFinite(drows[2][k]), k).toBe(true);
    }
  });
});
