import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli';
import { fakeIo as makeFakeIo } from '../testing/fakeIo';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-dpo-bonus-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const recipe = 'configs/dpo_math_bonus_arithmetic.yaml';
// the recipe on a fresh tiny model, shrunk to seconds
const tiny = [
  'policy.model_name=null',
  'policy.init={arch: llama, preset: tiny}',
  'dpo.max_num_steps=2',
  'dpo.val_period=1',
  'data.num_train_examples=64',
  'data.num_val_examples=16',
  'logger.log_dir=null',
];

describe("rxrl dpo with the guide's MathDPOTrainer as a recipe", () => {
  it('validates: reward.pair is a node of the per-step graph, before loss.dpo; a loss type without the pair logit fails at its key', async () => {
    const { io, out, err } = makeFakeIo(root);
    expect(await runCli(['config', recipe, '--graph'], io)).toBe(0);
    expect(err.join('\n')).toBe('');
    const printed = out.join('\n');
    expect(printed).toMatch(
      /- node: reward\.pair\n {4}kind: stage\n {4}options:\n {6}name: math_correctness\n {6}type: math\n {6}options: \{\}\n {6}weight: 2\n {6}sides:\n {8}- chosen\n {6}output: bonus/,
    );
    // one graph: π_ref's log-probs, the bonus, the loss (with the dpo keys' β), the step
    expect([...printed.matchAll(/- node: (\S+)/g)].map((m) => m[1])).toEqual([
      'data.rows',
      'data.tokenize',
      'policy.reference_logprobs',
      'reward.pair',
      'loss.dpo',
      'optimizer.step',
    ]);
    expect(printed).toMatch(/- node: loss\.dpo\n[^]*?reference_policy_kl_penalty: 0\.1\n/);
    const bad = makeFakeIo(root);
    expect(await runCli(['config', recipe, 'dpo.loss_type=ipo'], bad.io)).toBe(2);
    expect(bad.err.join('\n')).toMatch(
      /dpo\.loss_type: the graph's bonuses and margins shift the pair logit β·Δ, which ipo does not use/,
    );
  });

  it('runs 2 steps on a tiny model: the bonus is 2 on every chosen (always correct), its term and h logged', async () => {
    const runDir = path.join(tmp, 'run');
    const { io, out, err } = makeFakeIo(root);
    const code = await runCli(
      ['dpo', '--config', recipe, ...tiny, '--run-dir', runDir, '--backend', 'wasm'],
      io,
    );
    expect(err.join('\n')).toBe('');
    expect(code).toBe(0);
    expect(out.join('\n')).toMatch(/dpo done/);
    const rows = fs
      .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, number>);
    const train = rows.filter((r) => r['train/loss'] !== undefined);
    expect(train.map((r) => r['step'])).toEqual([1, 2]);
    for (const r of train) {
      // the node scored this step's pairs: every chosen answer is right, no null score
      expect(r['train/pair/math_correctness/chosen_mean']).toBe(1);
      expect(r['train/pair/math_correctness/nulls']).toBe(0);
      expect(r['train/bonus/math_correctness']).toBeCloseTo(2, 6);
      expect(r['train/bonus/math_correctness/chosen']).toBeCloseTo(2, 6);
      expect(r['train/bonus/math_correctness/rejected']).toBe(0);
      // h = β·Δ + 2 (no margin)
      expect(r['train/total_reward_gap']).toBeCloseTo(r['train/implicit_reward_gap']! + 2, 5);
      // β·Δ is the logged (unscaled) reward gap times β = 0.1
      expect(r['train/implicit_reward_gap']).toBeCloseTo(0.1 * r['train/reward_gap']!, 5);
    }
    // step 1 starts at π = π_ref: h = 2 for every pair, so loss = −log σ(2)
    expect(train[0]!['train/loss']).toBeCloseTo(Math.log1p(Math.exp(-2)), 5);
    expect(train[0]!['train/total_accuracy']).toBe(1);
    const val = rows.filter((r) => r['validation/loss'] !== undefined);
    expect(val.map((r) => r['step'])).toEqual([0, 1, 2]);
    expect(val[0]!['validation/bonus/math_correctness']).toBeCloseTo(2, 6);
    expect(val[0]!['validation/pair/math_correctness/chosen_mean']).toBe(1);
    // at π = π_ref the held-out loss is −log σ(2) too
    expect(val[0]!['validation/loss']).toBeCloseTo(Math.log1p(Math.exp(-2)), 5);
  });
});
