import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCli } from '../cli';
import { fakeIo as makeFakeIo } from '../testing/fakeIo';

// The YAMLs of the customisation guides (../shared/seeds), verbatim, in apps/cli/test/fixtures/guides:
// each key loads where it means something here and fails with one line where it does not.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const guides = 'apps/cli/test/fixtures/guides';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-guides-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function config(file: string, ...args: string[]) {
  const { io, out, err } = makeFakeIo(root);
  const code = await runCli(['config', file, ...args], io);
  return { code, out, err: err.join('\n') };
}

describe("the guides' recipes", () => {
  it('dpo_math_reasoning.yaml: dpo.seed loads as the run seed; precision bfloat16 and W&B fail, one line each', async () => {
    const { code, err } = await config(`${guides}/dpo_math_reasoning.yaml`);
    expect(code).toBe(2);
    const lines = err.split('\n').filter((l) => l.startsWith('  '));
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(
      /dpo_math_reasoning\.yaml:22 policy\.precision: rxrl trains in float32 only .* got "bfloat16"; set `precision: float32`/,
    );
    expect(lines[1]).toMatch(
      /:50 logger\.wandb_enabled: Weights & Biases is not bundled .* TensorBoard .* metrics\.jsonl/,
    );
    expect(lines[2]).toMatch(/:52 logger\.wandb: Weights & Biases is not bundled/);
    expect(err).not.toMatch(/dpo\.seed|tensorboard_enabled|unknown key/);
  });

  it('the same recipe with precision float32 and W&B off loads: the seed from dpo.seed (set to 7), β 0.2, lr 1e-5', async () => {
    const text = fs
      .readFileSync(path.join(root, guides, 'dpo_math_reasoning.yaml'), 'utf8')
      .replace('"bfloat16"', 'float32')
      .replace('wandb_enabled: true', 'wandb_enabled: false')
      .replace(/\n  wandb:\n(    .*\n)+/, '\n');
    const file = path.join(tmp, 'fixed.yaml');
    fs.writeFileSync(file, text.replace('seed: 42', 'seed: 7'));
    const { code, out, err } = await config(file);
    expect(err).toBe('');
    expect(code).toBe(0);
    const c = parse(out.join('\n')) as Record<string, Record<string, unknown>>;
    expect(c['seed']).toBe(7);
    expect(c['dpo']!['reference_policy_kl_penalty']).toBe(0.2);
    expect(c['dpo']).not.toHaveProperty('seed');
    expect(c['policy']).not.toHaveProperty('precision');
    expect((c['policy']!['optimizer'] as { kwargs: { lr: number } }).kwargs.lr).toBe(1e-5);
    expect(c['logger']).toEqual({ log_dir: 'logs' });
  });

  it('dpo_math_reasoning_beta.yaml: only the missing policy section is left to fill in', async () => {
    const { code, err } = await config(`${guides}/dpo_math_reasoning_beta.yaml`);
    expect(code).toBe(2);
    expect(err).toMatch(/policy: missing, expected a mapping/);
    expect(err).not.toMatch(/seed/);
  });

  it('custom_grpo.yaml: the algorithm: section fails with one line naming the command', async () => {
    const { code, err } = await config(`${guides}/custom_grpo.yaml`);
    expect(code).toBe(2);
    expect(err.split('\n')[0]).toMatch(
      /custom_grpo\.yaml:2 algorithm: rxrl recipes have no `algorithm:` section.*`rxrl grpo --config …`/,
    );
  });

  it("custom_grpo.yaml's keys inside a grpo recipe: value_loss_coef, entropy_coef, clip_ratio, learning_rate each one line; similarity_threshold loads", async () => {
    const file = path.join(tmp, 'grpo_keys.yaml');
    fs.writeFileSync(
      file,
      'grpo:\n  similarity_threshold: 0.8\n  learning_rate: 3.0e-4\n  clip_ratio: 0.2\n  value_loss_coef: 0.5\n  entropy_coef: 0.01\n',
    );
    const { code, err } = await config(file);
    expect(code).toBe(2);
    const lines = err.split('\n').filter((l) => / grpo\./.test(l));
    expect(err).toMatch(/policy: missing/); // a grpo recipe needs its policy; the rest are the guide's keys
    expect(lines.map((l) => l.replace(/^.*grpo_keys\.yaml:\d+ /, '').split(':')[0])).toEqual([
      'grpo.learning_rate',
      'grpo.clip_ratio',
      'grpo.value_loss_coef',
      'grpo.entropy_coef',
    ]);
    expect(lines[2]).toMatch(/no critic/);
    expect(lines[3]).toMatch(/`loss_fn\.entropy_coef`/);
    // and where it belongs, entropy_coef loads
    fs.writeFileSync(file, 'grpo: {}\npolicy:\n  model_name: m\nloss_fn:\n  entropy_coef: 0.01\n');
    const ok = await config(file);
    expect(ok.err).toBe('');
    expect(
      (parse(ok.out.join('\n')) as { loss_fn: { entropy_coef: number } }).loss_fn.entropy_coef,
    ).toBe(0.01);
  });

  it("custom_grpo.yaml's grouping keys under grpo: load as written; its group_size names the two keys", async () => {
    const file = path.join(tmp, 'grpo_grouping.yaml');
    const grouping =
      'grpo:\n  group_strategy: semantic  # or performance, random\n  grouping:\n    similarity_threshold: 0.8\n    max_group_size: 6\n    min_group_size: 2\npolicy:\n  model_name: m\n';
    fs.writeFileSync(file, grouping);
    const ok = await config(file);
    expect(ok.err).toBe('');
    const c = parse(ok.out.join('\n')) as {
      grpo: { group_strategy: string; grouping: Record<string, unknown> };
    };
    expect(c.grpo.group_strategy).toBe('semantic');
    expect(c.grpo.grouping).toMatchObject({
      similarity_threshold: 0.8,
      max_group_size: 6,
      min_group_size: 2,
    });
    fs.writeFileSync(file, grouping.replace('grpo:\n', 'grpo:\n  group_size: 4\n'));
    const bad = await config(file);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(
      /grpo_grouping\.yaml:2 grpo\.group_size: .*`grpo\.num_generations_per_prompt`.*`grpo\.grouping\.group_size`/,
    );
  });

  it('schedules: a loss_fn coefficient on a schedule loads; a non-numeric key fails with its line', async () => {
    const file = path.join(tmp, 'sched.yaml');
    const head = 'defaults: ' + path.join(root, 'configs/grpo_arithmetic.yaml') + '\nschedules:\n';
    fs.writeFileSync(
      file,
      head + '  loss_fn.entropy_coef: { type: cosine, start: 0.01, end: 0, end_step: 10 }\n',
    );
    const ok = await config(file);
    expect(ok.err).toBe('');
    const c = parse(ok.out.join('\n')) as { schedules: Record<string, { type: string }> };
    expect(c.schedules['loss_fn.entropy_coef']!.type).toBe('cosine');
    fs.writeFileSync(file, head + '  loss_fn.use_sapo: { type: constant, value: 1 }\n');
    const bad = await config(file);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(
      /sched\.yaml:3 schedules\."loss_fn\.use_sapo": a schedule drives a numeric loss_fn coefficient/,
    );
  });
});
