import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@rxrl/core';
import { ArithmeticTask, HfTokenizer } from '@rxrl/data';
import { loadPretrained, type CausalLM } from '@rxrl/model';
import { greedyDecode, readTrainingRecord } from '@rxrl/algorithms';
import { runCli } from '../cli';
import { fakeIo as makeFakeIo } from '../testing/fakeIo';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const modelPath = path.join(root, 'models/arith-sft');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-eval-gen-cmd-'));
// the task models/arith-sft was trained on (configs/sft_arithmetic.yaml: operands uniform
// over 0..99; its rxrl_training.json says so)
const TASK = { operators: ['+', '-'] as ('+' | '-')[], operand_sampling: 'uniform' as const };

let model: CausalLM;
let tokenizer: HfTokenizer;
beforeAll(async () => {
  await useBackend('wasm');
  model = await loadPretrained(modelPath);
  tokenizer = await HfTokenizer.fromDirectory(modelPath);
});
afterAll(() => {
  model?.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const fakeIo = () => makeFakeIo(root);

/** `name: value (k/n)` from the output lines. */
function metric(out: string[], name: string): { value: number; k: number; n: number } {
  const m = new RegExp(`^${name}: ([\\d.]+) \\((\\d+)/(\\d+)\\)$`).exec(
    out.find((l) => l.startsWith(`${name}:`)) ?? '',
  );
  expect(m, `${name} line in ${out.join('\n')}`).not.toBeNull();
  return { value: Number(m![1]), k: Number(m![2]), n: Number(m![3]) };
}

describe('rxrl eval', () => {
  it('prints the accuracy an independent greedy decode and exact match give', async () => {
    const { io, out } = fakeIo();
    const file = path.join(tmp, 'results.jsonl');
    const args = ['eval', '--model', 'models/arith-sft', '--max-samples', '32'];
    const code = await runCli(
      [...args, '--arithmetic', JSON.stringify(TASK), '--out', file, '--backend', 'wasm'],
      io,
    );
    expect(code).toBe(0);
    const acc = metric(out, 'accuracy');

    // independently: the task's prompts (BOS + text), the algorithms' argmax decoder,
    // the completion compared to the answer as a string
    const problems = new ArithmeticTask(TASK).problems('validation', 32, 'grpo');
    const prompts = problems.map((p) => tokenizer.encode(p.prompt));
    expect(prompts[0]![0]).toBe(tokenizer.bosTokenId);
    const longest = Math.max(...prompts.map((p) => p.length));
    const completions = greedyDecode(model, prompts, {
      maxNewTokens: Math.min(256, model.config.maxPositionEmbeddings - longest),
      eosTokenId: tokenizer.eosTokenId,
      padTokenId: tokenizer.padTokenId ?? 0,
    });
    const correct = completions.filter(
      (c, i) => tokenizer.decode(c, { skipSpecialTokens: true }).trim() === problems[i]!.answer,
    ).length;
    expect(acc).toEqual({ value: Number((correct / 32).toFixed(4)), k: correct, n: 32 });
    // the shipped policy is far from chance (answers span ~200 integers) and far from perfect
    expect(correct).toBeGreaterThan(3);
    expect(correct).toBeLessThan(32);
    expect(metric(out, 'accuracy').value).toBe(acc.value);
    expect(out.find((l) => l.startsWith('mean_reward:'))).toBe(
      `mean_reward: ${acc.value.toFixed(4)}`,
    );

    const rows = fs
      .readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows).toHaveLength(32);
    expect(rows.map((r) => r['prompt'])).toEqual(problems.map((p) => p.prompt));
    expect(rows.map((r) => r['answer'])).toEqual(problems.map((p) => p.answer));
    expect(rows.filter((r) => r['correct'] === true)).toHaveLength(correct);
  });

  it('num_generations > 1: pass@k counts prompts with any correct sample', async () => {
    const { io, out } = fakeIo();
    const file = path.join(tmp, 'passk.jsonl');
    const code = await runCli(
      [
        'eval',
        '--model',
        'models/arith-sft',
        '--max-samples',
        '8',
        '--n',
        '3',
        '--temperature',
        '1',
        '--seed',
        '3',
        '--arithmetic',
        JSON.stringify(TASK),
        '--out',
        file,
        '--backend',
        'wasm',
      ],
      io,
    );
    expect(code).toBe(0);
    const rows = fs
      .readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { prompt_index: number; correct: boolean });
    expect(rows).toHaveLength(24);
    const solved = new Set(rows.filter((r) => r.correct).map((r) => r.prompt_index)).size;
    expect(metric(out, 'pass@3')).toEqual({
      value: Number((solved / 8).toFixed(4)),
      k: solved,
      n: 8,
    });
    expect(metric(out, 'accuracy').k).toBe(rows.filter((r) => r.correct).length);
  });

  it('defaults to the recorded training task; reports accuracy by operand digits and problems seen in training', async () => {
    const record = readTrainingRecord(modelPath)!;
    expect(record.arithmetic?.operand_sampling).toBe('uniform');
    const { io, out } = fakeIo();
    const args = ['eval', '--model', 'models/arith-sft', '--split', 'train', '--max-samples', '40'];
    expect(await runCli([...args, '--backend', 'wasm'], io)).toBe(0);
    expect(out[0]).toMatch(
      /^rxrl eval: task builtin:arithmetic: \+ - over 2 operands of 1-2 digits \(uniform\), seed 0 \(the task models\/arith-sft was trained on\)$/,
    );
    // independently: the recorded task's problems, grouped by digit counts
    const task = new ArithmeticTask(record.arithmetic!);
    const problems = task.problems('train', 40, 'grpo');
    const byDigits = new Map<string, number>();
    for (const p of problems) {
      const key = `${p.operands.map((x) => String(x).length).join(',')} digits`;
      byDigits.set(key, (byDigits.get(key) ?? 0) + 1);
    }
    const head = out.indexOf('accuracy by operand digits:');
    expect(head).toBeGreaterThan(0);
    const lines = out.slice(head + 1, head + 1 + byDigits.size);
    const parsed = lines.map((l) => /^ {2}(\d,\d digits): [\d.]+ \((\d+)\/(\d+)\)$/.exec(l)!);
    expect(new Map(parsed.map((m) => [m[1]!, Number(m[3])]))).toEqual(byDigits);
    const k = parsed.reduce((a, m) => a + Number(m[2]), 0);
    expect(metric(out, 'accuracy').k).toBe(k);
    // the training split's problems: many of 40 drawn again occur among the 40,000 SFT rows
    const trained = new Set(task.rowProblems('sft', 'train', 40_000).map((p) => p.prompt));
    const hits = problems.filter((p) => trained.has(p.prompt)).length;
    expect(hits).toBeGreaterThan(20);
    expect(out).toContain(
      `seen in training: ${hits} of 40 eval problems occur among the ${trained.size} distinct sft training problems`,
    );
    // the validation split: none
    const val = fakeIo();
    const valArgs = ['eval', '--model', 'models/arith-sft', '--max-samples', '16', '--show', '0'];
    expect(await runCli([...valArgs, '--backend', 'wasm'], val.io)).toBe(0);
    expect(val.out.find((l) => l.startsWith('seen in training:'))).toMatch(
      /^seen in training: 0 of 16 /,
    );
  });

  it('--out DIR writes a file inside it, never over an earlier one; a bad --out fails before evaluating', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'outdir-'));
    const args = ['eval', '--model', 'models/arith-sft', '--max-samples', '4', '--out', dir];
    for (let i = 0; i < 2; i++) {
      const { io, err } = fakeIo();
      expect(await runCli([...args, '--backend', 'wasm'], io)).toBe(0);
      expect(err.join('\n')).toMatch(/wrote 4 samples to .*eval-arith-sft-validation(-2)?\.jsonl$/);
    }
    expect(fs.readdirSync(dir).sort()).toEqual([
      'eval-arith-sft-validation-2.jsonl',
      'eval-arith-sft-validation.jsonl',
    ]);
    const lines = fs.readFileSync(path.join(dir, 'eval-arith-sft-validation.jsonl'), 'utf8');
    expect(lines.trim().split('\n')).toHaveLength(4);
    // a path under a file: our message, exit 2, and no model loaded first (no eval line)
    const blocker = path.join(tmp, 'a-file');
    fs.writeFileSync(blocker, 'x');
    const { io, out, err } = fakeIo();
    const bad = ['eval', '--model', 'models/arith-sft', '--out', path.join(blocker, 'r.jsonl')];
    expect(await runCli(bad, io)).toBe(2);
    expect(err.join('\n')).toContain('cannot create its directory');
    expect(out).toEqual([]);
  });

  it('a JSONL file with prompt / answer rows is evaluated whole', async () => {
    const file = path.join(tmp, 'data.jsonl');
    fs.writeFileSync(
      file,
      ['{"prompt":"2+3=","answer":"5"}', '{"prompt":"99+7=","answer":106}'].join('\n') + '\n',
    );
    const { io, out } = fakeIo();
    expect(
      await runCli(
        ['eval', '--model', 'models/arith-sft', '--dataset', file, '--backend', 'wasm'],
        io,
      ),
    ).toBe(0);
    const want = ['2+3=', '99+7='].map((p) =>
      tokenizer.decode(
        greedyDecode(model, [tokenizer.encode(p)], {
          maxNewTokens: 8,
          eosTokenId: tokenizer.eosTokenId,
          padTokenId: 0,
        })[0]!,
      ),
    );
    const k = Number(want[0] === '5') + Number(want[1] === '106');
    expect(metric(out, 'accuracy')).toEqual({ value: k / 2, k, n: 2 });
  });

  it('bad arguments exit 2 with a message naming the option', async () => {
    const cases: [string[], string][] = [
      [['eval'], 'missing --model <dir>'],
      [['eval', '--model', 'nowhere'], '--model nowhere: no config.json'],
      [['eval', '--model', 'models/arith-sft', '--max-samples', '0'], '--max-samples expects'],
      [['eval', '--model', 'models/arith-sft', '--reward', 'bleu'], '--reward expects math'],
      [['eval', '--model', 'models/arith-sft', '--temperature', 'hot'], '--temperature expects'],
      [['eval', '--model', 'models/arith-sft', '--split', 'test'], '--split expects'],
      [['eval', '--model', 'models/arith-sft', '--dataset', 'builtin:gsm8k'], 'not a built-in'],
      [
        ['eval', '--model', 'models/arith-sft', '--dataset', 'no.jsonl'],
        'no.jsonl: file not found',
      ],
      [['eval', '--model', 'models/arith-sft', '--arithmetic', '{oops'], '--arithmetic expects'],
      [['eval', '--model', 'models/arith-sft', '--bogus'], 'bogus'],
      [
        ['eval', '--model', 'models/arith-sft', '--n', '2', '--num-generations', '2'],
        '--n and --num-generations are the same flag',
      ],
      [['generate', '--model', 'models/arith-sft', '--n', '0', '-p', 'x'], '--n expects'],
      [['generate', '--model', 'models/arith-sft', '--top-p', '2', '-p', 'x'], '--top-p expects'],
      [['generate', '--model', 'models/arith-sft', 'hello'], "unexpected argument 'hello'"],
    ];
    for (const [argv, message] of cases) {
      const { io, err } = fakeIo();
      expect(await runCli(argv, io), argv.join(' ')).toBe(2);
      expect(err.join('\n')).toContain(message);
    }
  });
});

describe('rxrl generate', () => {
  async function gen(args: string[]) {
    const { io, out } = fakeIo();
    const code = await runCli(
      ['generate', '--model', 'models/arith-sft', '--json', '--backend', 'wasm', ...args],
      io,
    );
    expect(code).toBe(0);
    return out.map(
      (l) => JSON.parse(l) as { prompt: string; completion: string; completion_tokens: number[] },
    );
  }

  it("greedy's first token is the argmax of the model's next-token logits", async () => {
    const prompts = ['12+7=', '40-3=', '5+5='];
    const got = await gen([
      ...prompts.flatMap((p) => ['-p', p]),
      '--temperature',
      '0',
      '--max-new-tokens',
      '1',
    ]);
    expect(got.map((g) => g.prompt)).toEqual(prompts);
    const want = prompts.map((p) => {
      const ids = tokenizer.encode(p);
      const row = tf.tidy(() => {
        const logits = model.logits(tf.tensor2d([ids], [1, ids.length], 'int32'));
        return tf.slice(logits, [0, ids.length - 1, 0], [1, 1, -1]).dataSync();
      });
      // argmax in plain JS, first index on ties (as greedy decoding takes)
      let best = 0;
      for (let v = 1; v < row.length; v++) if (row[v]! > row[best]!) best = v;
      return best;
    });
    expect(got.map((g) => g.completion_tokens)).toEqual(want.map((id) => [id]));
  });

  it('sampling with a fixed seed is deterministic', async () => {
    const args = ['-p', '12+7=', '-p', '8-9=', '--temperature', '1.5', '--n', '3', '--seed', '11'];
    const a = await gen(args);
    const b = await gen(args);
    expect(a).toHaveLength(6);
    expect(b).toEqual(a);
    // plain output: one block per completion
    const { io, out } = fakeIo();
    expect(await runCli(['generate', '--model', 'models/arith-sft', ...args], io)).toBe(0);
    expect(out).toEqual(
      a.map(
        (s, i) =>
          `--- prompt ${Math.floor(i / 3) + 1}, sample ${(i % 3) + 1}: ${JSON.stringify(s.prompt)}\n${s.completion}`,
      ),
    );
  });

  it('reads prompts from stdin, one per line, when no --prompt is given', async () => {
    const args = [
      '--model',
      'models/arith-sft',
      '--temperature',
      '0',
      '--json',
      '--backend',
      'wasm',
    ];
    const r = spawnSync(
      process.execPath,
      [path.join(root, 'apps/cli/bin/rxrl.js'), 'generate', ...args],
      { cwd: root, input: '12+7=\n\n40-3=\n', encoding: 'utf8' },
    );
    expect(r.status, r.stderr).toBe(0);
    const piped = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { prompt: string });
    expect(piped.map((p) => p.prompt)).toEqual(['12+7=', '40-3=']);
    expect(piped).toEqual(await gen(['-p', '12+7=', '-p', '40-3=', '--temperature', '0']));
  });

  it('repeated in-process runs leave no tensors behind', async () => {
    const args = ['-p', '1+1=', '--n', '2', '--max-new-tokens', '4'];
    await gen(args);
    const before = tf.memory().numTensors;
    await gen(args);
    const { io } = fakeIo();
    expect(
      await runCli(
        ['eval', '--model', 'models/arith-sft', '--max-samples', '4', '--backend', 'wasm'],
        io,
      ),
    ).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
  });
});
