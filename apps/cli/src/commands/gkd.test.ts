import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli';
import { fakeIo as makeFakeIo } from '../testing/fakeIo';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-gkd-cmd-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const fakeIo = () => makeFakeIo(root);
const small = [
  'gkd.val_period=1',
  'gkd.lmbda=0.5',
  'data.num_train_examples=64',
  'data.num_val_examples=16',
  'policy.train_global_batch_size=16',
  'policy.train_micro_batch_size=8',
  'gkd.val_generation.num_prompts=4',
  'gkd.val_micro_batch_size=8',
  'gkd.generation_batch_size=16',
  '--backend',
  'wasm',
];

describe('rxrl gkd', () => {
  it('a remote teacher is refused with exit 2 and the reason, before any model loads', async () => {
    const recipe = path.join(tmp, 'remote.yaml');
    fs.writeFileSync(
      recipe,
      `defaults: ${path.join(root, 'configs/gkd_arithmetic.yaml')}\ngkd:\n  teacher: { model_name: null, remote: { base_url: 'http://127.0.0.1:9/v1', model: teacher } }\n`,
    );
    const { io, err } = fakeIo();
    expect(await runCli(['gkd', '--config', recipe, '--run-dir', path.join(tmp, 'r')], io)).toBe(2);
    expect(err.join('\n')).toMatch(
      /gkd\.teacher\.remote is not supported: .*whole next-token distribution/,
    );
    const both = fakeIo();
    expect(
      await runCli(
        ['gkd', '--config', 'configs/gkd_arithmetic.yaml', 'gkd.teacher.model_name=null'],
        both.io,
      ),
    ).toBe(2);
    expect(both.err.join('\n')).toContain('give exactly one teacher');
  });

  it('distils models/arith-sft into a fresh student, exports it, and resumes from the checkpoint', async () => {
    const runDir = path.join(tmp, 'run');
    const args = ['gkd', '--config', 'configs/gkd_arithmetic.yaml', '--run-dir', runDir];
    const a = fakeIo();
    expect(await runCli([...args, 'gkd.max_num_steps=2', ...small], a.io)).toBe(0);
    expect(a.out.join('\n')).toMatch(
      /rxrl: held-out jsd \d+\.\d+ \(step 0\) -> \d+\.\d+ \(step 2\)\nrxrl: held-out accuracy \d\.\d+ \(step 0\) -> \d\.\d+ \(step 2\)/,
    );
    const b = fakeIo();
    expect(await runCli([...args, 'gkd.max_num_steps=3', ...small], b.io)).toBe(0);
    expect(b.out.join('\n')).toMatch(/resum/i);
    const rows = fs
      .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, number>);
    const trained = rows.filter((r) => 'train/loss' in r).map((r) => r['step']);
    expect(trained).toEqual([1, 2, 3]);
    for (const r of rows.filter((r) => 'validation/loss' in r)) {
      expect(r['validation/loss']).toBeGreaterThan(0);
      expect(r['validation/nll']).toBeGreaterThan(0);
    }
    const record = JSON.parse(
      fs.readFileSync(path.join(runDir, 'final_model', 'rxrl_training.json'), 'utf8'),
    );
    expect(record).toMatchObject({ algorithm: 'gkd', rows: 'sft', num_train: 64 });
  });
});
