// Bad data through `rxrl sft`: a malformed JSONL line or a row missing its fields stops
// the run (exit 1) naming file and line; with data.skip_invalid the rows are skipped and counted.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, metricsRows, tinySft } from './tinySft';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-baddata-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const good = Array.from({ length: 36 }, (_, i) =>
  JSON.stringify({
    prompt: `${i % 6}+${Math.floor(i / 6)}=`,
    completion: String((i % 6) + Math.floor(i / 6)),
  }),
);
function file(name: string, edit: (lines: string[]) => void): string {
  const lines = [...good];
  edit(lines);
  const p = path.join(tmp, name);
  fs.writeFileSync(p, lines.join('\n') + '\n');
  return p;
}
const malformed = file('malformed.jsonl', (l) => (l[6] = '{"prompt": "1+1=", "completion": '));
const missing = file('missing.jsonl', (l) => (l[9] = JSON.stringify({ prompt: '2+2=' })));
const both = file('both.jsonl', (l) => {
  l[3] = 'not json';
  l[11] = JSON.stringify({ completion: '4' });
});

const run = (data: string, skip: boolean, name: string) =>
  cli([
    'sft',
    '--config',
    'configs/sft_arithmetic.yaml',
    ...tinySft(3),
    'checkpointing.enabled=false',
    `data.dataset_name=${data}`,
    'data.val_fraction=0.2',
    `data.skip_invalid=${skip}`,
    '--run-dir',
    path.join(tmp, name),
    '--backend',
    'wasm',
  ]);

describe('bad data through rxrl sft', () => {
  it('a malformed JSON line: exit 1 naming file and line', async () => {
    const r = await run(malformed, false, 'm');
    expect(r.code).toBe(1);
    expect(r.err).toContain(`rxrl sft: failed: line 7 of ${malformed}: not valid JSON`);
    expect(fs.existsSync(path.join(tmp, 'm', 'metrics.jsonl'))).toBe(false);
  });

  it('a row missing its fields: exit 1 naming file and line', async () => {
    const r = await run(missing, false, 'f');
    expect(r.code).toBe(1);
    expect(r.err).toContain(`rxrl sft: failed: line 10 of ${missing}: cannot tell the SFT format`);
  });

  it('data.skip_invalid: both kinds skipped, counted in the log and as train/data/skipped_invalid in metrics.jsonl', async () => {
    const r = await run(both, true, 's');
    expect(r.code).toBe(0);
    expect(r.out).toContain('rxrl: 2 invalid data rows skipped (data.skip_invalid)');
    // the reader drops the bad line (35 rows left), 20% of 35 = 7 held out, the
    // field-less row (line 12, among the first 28) is skipped at tokenisation: 27 examples
    expect(r.out).toContain('rxrl: sft on 27 examples (0 dropped, 0 truncated), 7 held out');
    const rows = metricsRows(path.join(tmp, 's')).filter((m) => m['train/loss'] !== undefined);
    expect(rows.map((m) => m['step'])).toEqual([1, 2, 3]);
    for (const m of rows) expect(m['train/data/skipped_invalid']).toBe(2);
  });
});

describe('bad data through rxrl dpo', () => {
  const pairs = Array.from({ length: 36 }, (_, i) => {
    const [a, b] = [i % 6, Math.floor(i / 6)];
    return JSON.stringify({
      prompt: `${a}+${b}=`,
      chosen: String(a + b),
      rejected: String(a + b + 1),
    });
  });
  pairs[4] = JSON.stringify({ prompt: '1+1=', chosen: '2' });
  const pref = path.join(tmp, 'pref.jsonl');
  fs.writeFileSync(pref, pairs.join('\n') + '\n');
  const dpo = (skip: boolean, name: string) =>
    cli([
      'dpo',
      '--config',
      'configs/dpo_arithmetic.yaml',
      'policy.train_global_batch_size=4',
      'policy.train_micro_batch_size=2',
      'dpo.max_num_steps=2',
      'dpo.val_at_start=false',
      'dpo.val_period=0',
      'dpo.val_global_batch_size=4',
      'dpo.val_micro_batch_size=4',
      'checkpointing.enabled=false',
      `data.dataset_name=${pref}`,
      'data.val_fraction=0.2',
      `data.skip_invalid=${skip}`,
      '--run-dir',
      path.join(tmp, name),
      '--backend',
      'wasm',
    ]);

  it('a pair missing `rejected`: exit 1 naming file, line and field', async () => {
    const r = await dpo(false, 'dpo-stop');
    expect(r.code).toBe(1);
    expect(r.err).toContain(`rxrl dpo: failed: line 5 of ${pref}: missing field "rejected"`);
  });

  it('data.skip_invalid: skipped and counted', async () => {
    const r = await dpo(true, 'dpo-skip');
    expect(r.code).toBe(0);
    expect(r.out).toContain('rxrl: 1 invalid data rows skipped (data.skip_invalid)');
    expect(r.out).toContain('rxrl: dpo on 28 pairs');
    const rows = metricsRows(path.join(tmp, 'dpo-skip')).filter(
      (m) => m['train/loss'] !== undefined,
    );
    expect(rows.map((m) => m['train/data/skipped_invalid'])).toEqual([1, 1]);
  });
});

describe('bad data through rxrl grpo', () => {
  const lines = Array.from({ length: 64 }, (_, i) =>
    JSON.stringify({
      prompt: `What is ${i % 8}+${Math.floor(i / 8)}?`,
      answer: String((i % 8) + Math.floor(i / 8)),
    }),
  );
  lines[5] = JSON.stringify({ answer: '3' });
  const missingPrompt = path.join(tmp, 'prompts-missing.jsonl');
  fs.writeFileSync(missingPrompt, lines.join('\n') + '\n');
  lines[9] = '{oops';
  const twoBad = path.join(tmp, 'prompts-two-bad.jsonl');
  fs.writeFileSync(twoBad, lines.join('\n') + '\n');
  const grpo = (file: string, skip: boolean, name: string) =>
    cli([
      'grpo',
      '--config',
      'configs/grpo_arithmetic.yaml',
      'policy.model_name=null',
      'policy.init={arch: llama, preset: tiny}',
      'policy.train_global_batch_size=8',
      'policy.train_micro_batch_size=8',
      'policy.generation.max_new_tokens=2',
      'grpo.num_prompts_per_step=4',
      'grpo.num_generations_per_prompt=2',
      'grpo.max_val_samples=4',
      'grpo.val_period=0',
      'grpo.max_num_steps=2',
      // a random policy's groups are all wrong: dynamic sampling would find none
      'grpo.use_dynamic_sampling=false',
      'logger.progress=false',
      'logger.tensorboard_enabled=false',
      'checkpointing.enabled=false',
      `data.train_data_path=${file}`,
      `data.skip_invalid=${skip}`,
      '--run-dir',
      path.join(tmp, name),
      '--backend',
      'wasm',
    ]);

  it('a prompt row without its prompt: exit 1 naming file and line', async () => {
    const r = await grpo(missingPrompt, false, 'grpo-stop');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      new RegExp(
        `^rxrl grpo: failed: line 6 of ${missingPrompt.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `,
      ),
    );
  });

  it('data.skip_invalid: a malformed line and a row without its prompt skipped and counted', async () => {
    const r = await grpo(twoBad, true, 'grpo-skip');
    expect(r.code).toBe(0);
    expect(r.out).toContain('rxrl: 2 invalid data rows skipped (data.skip_invalid)');
    const rows = metricsRows(path.join(tmp, 'grpo-skip')).filter(
      (m) => m['train/loss'] !== undefined,
    );
    expect(rows.map((m) => m['train/data/skipped_invalid'])).toEqual([2, 2]);
  });
});
