import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCli } from '../cli';
import { fakeIo as makeFakeIo } from '../testing/fakeIo';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-config-cmd-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const fakeIo = () => makeFakeIo(root);

describe('rxrl config', () => {
  it('prints the resolved config and --save writes config.yaml', async () => {
    const { io, out, err } = fakeIo();
    const dir = path.join(tmp, 'saved');
    expect(await runCli(['config', 'configs/base.yaml', 'seed=0', '--save', dir], io)).toBe(0);
    expect(out).toEqual(['seed: 0\nlogger:\n  log_dir: null']);
    // outside the working directory the message gives the absolute path, not ../../tmp/…
    expect(err).toEqual([`rxrl: saved ${path.join(dir, 'config.yaml')}`]);
    expect(parse(fs.readFileSync(path.join(dir, 'config.yaml'), 'utf8'))).toEqual({
      seed: 0,
      logger: { log_dir: null },
    });
  });

  it.each(fs.readdirSync(path.join(root, 'configs')).filter((f) => f.endsWith('.yaml')))(
    'configs/%s resolves and validates as its algorithm',
    async (file) => {
      const { io, out, err } = fakeIo();
      expect(await runCli(['config', `configs/${file}`], io)).toBe(0);
      expect(err).toEqual([]);
      const config = parse(out.join('\n')) as Record<string, unknown>;
      // the algorithm's own defaults are filled in, so its section is always printed
      const algorithm = ['sft', 'dpo', 'grpo', 'gkd'].find((a) => file.startsWith(`${a}_`));
      if (algorithm !== undefined) expect(config).toHaveProperty(algorithm);
      else expect(Object.keys(config)).toEqual(['seed', 'logger']);
    },
  );

  it.each(fs.readdirSync(path.join(root, 'configs')).filter((f) => /^(sft|dpo|grpo|gkd)_/.test(f)))(
    '--graph prints the resolved graph of configs/%s, ending in its loss and optimizer step',
    async (file) => {
      const { io, out, err } = fakeIo();
      expect(await runCli(['config', '--graph', `configs/${file}`], io)).toBe(0);
      expect(err).toEqual([]);
      const printed = parse(out.join('\n')) as {
        algorithm: string;
        graph: { node: string; kind: string; options: Record<string, unknown> }[];
      };
      expect(file.startsWith(`${printed.algorithm}_`)).toBe(true);
      const names = printed.graph.map((n) => n.node);
      expect(names.at(-1)).toBe('optimizer.step');
      expect(names.at(-2)).toMatch(/^loss\./);
      expect(printed.graph.at(-1)!.options).toHaveProperty('optimizer');
      // SFT, DPO and GKD graphs start at the source's raw rows, tokenised by a graph stage
      // (GKD's teacher, a service, between them)
      if (/^(sft|dpo|gkd)_/.test(file)) {
        const gkd = file.startsWith('gkd_');
        expect(printed.graph.slice(0, gkd ? 3 : 2).map((n) => `${n.kind}:${n.node}`)).toEqual([
          'source:data.rows',
          ...(gkd ? ['service:gkd.teacher'] : []),
          'stage:data.tokenize',
        ]);
        expect(printed.graph[gkd ? 2 : 1]!.options).toMatchObject({
          rows: file.startsWith('dpo_') ? 'preference' : 'sft',
          max_length: expect.any(Number),
          truncation: expect.any(String),
        });
      }
    },
  );

  it('--graph resolves GRPO stage options: node options over the keys, defaults filled, filters as stages', async () => {
    const { io, out } = fakeIo();
    const args = ['grpo.overlong_filtering=true', 'policy.generation.temperature=0.5'];
    expect(await runCli(['config', 'configs/grpo_arithmetic.yaml', ...args, '--graph'], io)).toBe(
      0,
    );
    const { graph } = parse(out.join('\n')) as {
      graph: { node: string; kind: string; options: Record<string, unknown> }[];
    };
    expect(graph.map((n) => `${n.kind}:${n.node}`)).toEqual([
      'stage:rollout.generate',
      'stage:reward.math',
      'stage:grouping.advantages',
      'stage:filter.overlong',
      'stage:filter.dynamic_sampling',
      'stage:loss.clipped_pg',
      'stage:optimizer.step',
    ]);
    expect(graph[0]!.options).toMatchObject({
      temperature: 0.5,
      num_generations_per_prompt: 8,
      seed: 7,
      min_p: 0,
    });
    // the policy update's loss node: the loss_fn keys, the micro-batch size, the rollout's temperature
    expect(graph[5]!.options).toMatchObject({
      ratio_clip_min: 0.2,
      token_level_loss: true,
      micro_batch_size: 128,
      temperature: 0.5,
    });
    const shared = fakeIo();
    expect(await runCli(['config', '--graph', 'configs/base.yaml'], shared.io)).toBe(2);
    expect(shared.err.join('\n')).toMatch(
      /--graph: configs\/base.yaml is not an algorithm's recipe/,
    );
  });

  it('--graph resolves SFT / DPO graphs from the registry: node options over the keys; a bad graph exits 2 at file:line', async () => {
    const keys = fakeIo();
    expect(
      await runCli(
        ['config', '--graph', 'configs/dpo_orpo_arithmetic.yaml', 'dpo.objective.name=kto'],
        keys.io,
      ),
    ).toBe(0);
    const printed = (
      parse(keys.out.join('\n')) as {
        graph: { node: string; kind: string; options: Record<string, unknown> }[];
      }
    ).graph;
    // kto reads π_ref, so the keys' default graph scores with it first
    expect(printed.map((n) => `${n.kind}:${n.node}`)).toEqual([
      'source:data.rows',
      'stage:data.tokenize',
      'stage:policy.reference_logprobs',
      'stage:loss.kto',
      'stage:optimizer.step',
    ]);
    // data.tokenize's options are the recipe's data keys and policy.max_total_sequence_length
    expect(printed[1]!.options).toMatchObject({
      rows: 'preference',
      max_length: 32,
      truncation: 'drop',
      pair_texts: false,
    });
    expect(printed[3]!.options).toMatchObject({
      beta: 0.5,
      loss_type: 'kto',
      micro_batch_size: 16,
    });

    const recipe = path.join(tmp, 'dpo_graph.yaml');
    fs.writeFileSync(
      recipe,
      `defaults: ${path.join(root, 'configs/dpo_arithmetic.yaml')}
graph:
  - stage: loss.dpo
    options: { reference_free: true, loss_type: ipo, micro_batch_size: 4 }
  - stage: optimizer.step
    options: { max_grad_norm: 0.5 }
`,
    );
    const own = makeFakeIo(tmp);
    expect(await runCli(['config', '--graph', 'dpo_graph.yaml'], own.io)).toBe(0);
    const graph = (
      parse(own.out.join('\n')) as {
        graph: { node: string; options: Record<string, unknown> }[];
      }
    ).graph;
    expect(graph.map((n) => n.node)).toEqual([
      'data.rows',
      'data.tokenize',
      'loss.dpo',
      'optimizer.step',
    ]);
    // the node's options win; the keys fill the rest (dpo.reference_policy_kl_penalty, policy.optimizer)
    expect(graph[2]!.options).toMatchObject({
      loss_type: 'ipo',
      micro_batch_size: 4,
      reference_free: true,
      reference_policy_kl_penalty: 0.1,
    });
    expect(graph[3]!.options).toMatchObject({
      max_grad_norm: 0.5,
      optimizer: { name: 'torch.optim.AdamW', kwargs: { lr: 1e-4 } },
    });

    fs.writeFileSync(
      recipe,
      `defaults: ${path.join(root, 'configs/sft_arithmetic.yaml')}
graph:
  - stage: loss.nll
    options: { micro_batch_size: 3 }
  - stage: optimizer.stp
`,
    );
    const bad = makeFakeIo(tmp);
    expect(await runCli(['config', 'dpo_graph.yaml'], bad.io)).toBe(2);
    expect(bad.err.join('\n')).toMatch(
      /dpo_graph\.yaml:5 graph\.1\.stage: unknown stage \(did you mean 'optimizer\.step'\?\)/,
    );
    fs.writeFileSync(
      recipe,
      `defaults: ${path.join(root, 'configs/sft_arithmetic.yaml')}
graph:
  - stage: loss.nll
    options: { micro_batch_size: 3 }
  - stage: optimizer.step
`,
    );
    const micro = makeFakeIo(tmp);
    expect(await runCli(['config', 'dpo_graph.yaml'], micro.io)).toBe(2);
    expect(micro.err.join('\n')).toMatch(
      /dpo_graph\.yaml:4 graph\.0\.options\.micro_batch_size: must divide policy\.train_global_batch_size \(128\), got 3/,
    );
  });

  it('the algorithm section may come from defaults:, and --algorithm overrides it', async () => {
    const recipe = path.join(tmp, 'inherits.yaml');
    fs.writeFileSync(
      recipe,
      `defaults: ${path.join(root, 'configs/sft_arithmetic.yaml')}\nseed: 3\n`,
    );
    const inherited = makeFakeIo(tmp);
    expect(await runCli(['config', 'inherits.yaml', 'sft.max_num_steps=5'], inherited.io)).toBe(0);
    const config = parse(inherited.out.join('\n')) as {
      seed: number;
      sft: Record<string, unknown>;
    };
    expect(config.seed).toBe(3);
    expect(config.sft['max_num_steps']).toBe(5);

    // as a DPO recipe the sft section is unknown: the algorithm was forced
    const forced = makeFakeIo(tmp);
    expect(await runCli(['config', 'inherits.yaml', '--algorithm', 'dpo'], forced.io)).toBe(2);
    expect(forced.err.join('\n')).toMatch(/sft_arithmetic\.yaml:\d+ sft: unknown key/);

    const wrong = fakeIo();
    expect(await runCli(['config', 'configs/base.yaml', '--algorithm', 'ppo'], wrong.io)).toBe(2);
    expect(wrong.err[0]).toContain("--algorithm must be one of sft, dpo, grpo, gkd, got 'ppo'");
  });

  it('a bad key is reported at its file:line, checked against the algorithm sections', async () => {
    fs.writeFileSync(
      path.join(tmp, 'bad.yaml'),
      'policy:\n  model_name: models/arith-sft\ngrpo:\n  max_num_stepz: 3\n',
    );
    const { io, err } = makeFakeIo(tmp);
    expect(await runCli(['config', 'bad.yaml'], io)).toBe(2);
    expect(err.join('\n')).toContain(
      'bad.yaml:4 grpo.max_num_stepz: unknown key, got 3; did you mean `max_num_steps`?',
    );
  });

  it('a recipe whose algorithm cannot be told is a usage error naming --algorithm', async () => {
    fs.writeFileSync(path.join(tmp, 'which.yaml'), 'policy:\n  model_name: models/arith-sft\n');
    const none = makeFakeIo(tmp);
    expect(await runCli(['config', 'which.yaml'], none.io)).toBe(2);
    expect(none.err).toEqual([
      "rxrl config: cannot tell the algorithm of which.yaml: it has policy but no sft, dpo, grpo, gkd section; pass --algorithm sft|dpo|grpo|gkd\nRun 'rxrl config --help' for usage.",
    ]);
    // a key no algorithm reads is a typo, reported where it is like any other
    fs.writeFileSync(path.join(tmp, 'typo.yaml'), 'seed: 1\nloger: {}\n');
    const typo = makeFakeIo(tmp);
    expect(await runCli(['config', 'typo.yaml'], typo.io)).toBe(2);
    expect(typo.err).toEqual([
      'rxrl config: typo.yaml:2 loger: unknown key, got {}; did you mean `logger`?',
    ]);
    fs.writeFileSync(path.join(tmp, 'both.yaml'), 'sft: {}\ndpo: {}\n');
    const both = makeFakeIo(tmp);
    expect(await runCli(['config', 'both.yaml'], both.io)).toBe(2);
    expect(both.err[0]).toContain(
      'both.yaml has sections sft and dpo; choose one with --algorithm',
    );
    // forced, the same recipe validates as SFT
    const forced = makeFakeIo(tmp);
    expect(await runCli(['config', 'which.yaml', '--algorithm', 'sft'], forced.io)).toBe(0);
    expect(parse(forced.out.join('\n'))).toHaveProperty('sft');
  });

  it('usage errors: no recipe, or an override where the recipe goes', async () => {
    const none = fakeIo();
    expect(await runCli(['config'], none.io)).toBe(2);
    expect(none.err).toEqual([
      "rxrl config: missing the recipe file\nRun 'rxrl config --help' for usage.",
    ]);
    const swapped = fakeIo();
    expect(await runCli(['config', 'seed=1', 'configs/base.yaml'], swapped.io)).toBe(2);
    expect(swapped.err).toEqual([
      "rxrl config: the first argument must be the recipe file, got the override 'seed=1'\nRun 'rxrl config --help' for usage.",
    ]);
  });

  it('a missing recipe or a bad override is a configuration error, exit 2', async () => {
    const missing = fakeIo();
    expect(await runCli(['config', 'configs/nope.yaml'], missing.io)).toBe(2);
    expect(missing.err).toEqual([
      'rxrl config: cannot read recipe configs/nope.yaml (file not found)',
    ]);
    const bad = fakeIo();
    expect(await runCli(['config', 'configs/base.yaml', 'logger'], bad.io)).toBe(2);
    expect(bad.err).toEqual([
      'rxrl config: command line logger: an override must look like key.path=value',
    ]);
  });
});
