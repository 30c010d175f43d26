import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readMetricsJsonl } from '@rxrl/logging';
import { runCli } from '../cli';
import { gridPoints, parseGrid, pointName, randomPoints } from '../sweepPlan';
import { fakeIo as makeFakeIo } from '../testing/fakeIo';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-sweep-cmd-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// a 2-step SFT recipe on a one-layer model: each run takes about a second
const RECIPE = `seed: 1
policy:
  init:
    arch: llama
    preset: tiny
    config_overrides: { hidden_size: 32, intermediate_size: 64, num_attention_heads: 2, num_key_value_heads: 1, num_hidden_layers: 1, max_position_embeddings: 32 }
  train_global_batch_size: 8
  train_micro_batch_size: 8
  max_total_sequence_length: 32
  optimizer: { name: torch.optim.AdamW, kwargs: { lr: 1.0e-3, weight_decay: 0 } }
sft:
  max_num_steps: 2
  val_period: 0
  val_at_start: false
  val_global_batch_size: 8
  val_micro_batch_size: 8
  val_generation: { num_prompts: 0 }
data:
  arithmetic: { operators: ['+'], max_digits: 1 }
  num_train_examples: 32
  num_val_examples: 4
checkpointing: { enabled: false }
`;
fs.writeFileSync(path.join(tmp, 'tiny_sft.yaml'), RECIPE);

describe('sweep plans', () => {
  it('a grid is every combination, the first key slowest; random draws distinct ones by seed', () => {
    const axes = parseGrid(['policy.optimizer.kwargs.lr=1e-3,1e-2', 'seed=1,2,3']);
    const names = gridPoints(axes).map(pointName);
    expect(names).toEqual([
      'lr=1e-3,seed=1',
      'lr=1e-3,seed=2',
      'lr=1e-3,seed=3',
      'lr=1e-2,seed=1',
      'lr=1e-2,seed=2',
      'lr=1e-2,seed=3',
    ]);
    const drawn = randomPoints(axes, 3, 7).map(pointName);
    expect(new Set(drawn).size).toBe(3);
    expect(randomPoints(axes, 3, 7).map(pointName)).toEqual(drawn);
    expect(names).toEqual(expect.arrayContaining(drawn));
    // over many seeds every combination is drawn about equally often (3 of 6: p = 1/2 each)
    const counts = new Map<string, number>();
    for (let s = 0; s < 600; s++)
      for (const n of randomPoints(axes, 3, s).map(pointName))
        counts.set(n, (counts.get(n) ?? 0) + 1);
    for (const n of names) expect(Math.abs(counts.get(n)! - 300)).toBeLessThan(60);
    // commas inside a list stay in one value; clashing last segments keep the full key
    expect(parseGrid(['data.arithmetic.operators=[+,-],[+]'])[0]!.values).toEqual(['[+,-]', '[+]']);
    expect(
      pointName([
        { key: 'a.lr', value: '1' },
        { key: 'b.lr', value: '2' },
      ]),
    ).toBe('a.lr=1,b.lr=2');
    expect(() => parseGrid(['seed=1,,2'])).toThrow(/an empty value/);
    expect(() => parseGrid(['seed'])).toThrow(/expected key\.path=value1,value2/);
    expect(() => randomPoints(axes, 7, 0)).toThrow(/only 6 combinations/);
  });
});

describe('rxrl sweep', () => {
  it('runs each setting in a run directory of its own, prints and writes the summary, never reuses a directory', async () => {
    const { io, out } = makeFakeIo(tmp);
    const args = [
      'sweep',
      '--config',
      'tiny_sft.yaml',
      '--grid',
      'policy.optimizer.kwargs.lr=1e-3,3e-2',
      '--grid',
      'seed=1,2',
      '--out',
      'sw',
      '--backend',
      'wasm',
    ];
    expect(await runCli(args, io)).toBe(0);
    const dirs = ['lr=1e-3,seed=1', 'lr=1e-3,seed=2', 'lr=3e-2,seed=1', 'lr=3e-2,seed=2'];
    expect(fs.readdirSync(path.join(tmp, 'sw')).sort()).toEqual(
      [...dirs, 'sweep_summary.json', 'sweep_summary.md'].sort(),
    );
    const losses = dirs.map((d) => {
      const rows = readMetricsJsonl(path.join(tmp, 'sw', d, 'metrics.jsonl'));
      expect(rows.filter((r) => r['train/loss'] !== undefined)).toHaveLength(2);
      return rows.filter((r) => r['train/loss'] !== undefined).at(-1)!['train/loss']!;
    });
    // each run its own setting: the config saved with it says so
    expect(fs.readFileSync(path.join(tmp, 'sw', 'lr=3e-2,seed=2', 'config.yaml'), 'utf8')).toMatch(
      /seed: 2[\s\S]*lr: 0\.03/,
    );
    const summary = JSON.parse(fs.readFileSync(path.join(tmp, 'sw', 'sweep_summary.json'), 'utf8'));
    expect(summary.command).toBe('sft');
    expect(summary.runs.map((r: { run_dir: string }) => r.run_dir)).toEqual(dirs);
    expect(
      summary.runs.map((r: { final: Record<string, number> }) => r.final['train/loss']),
    ).toEqual(losses);
    // the printed table: the swept keys, the run, its exit code and final metrics
    const text = out.join('\n');
    expect(text).toMatch(/policy\.optimizer\.kwargs\.lr\s+seed\s+run\s+exit\s+train\/loss/);
    expect(text).toMatch(
      new RegExp(`3e-2\\s+2\\s+sw/lr=3e-2,seed=2\\s+0\\s+${losses[3]!.toFixed(4)}`),
    );

    // the same sweep again: new directories beside the old ones, which stay as they were
    const before = fs.readFileSync(path.join(tmp, 'sw', dirs[0]!, 'metrics.jsonl'), 'utf8');
    const again = makeFakeIo(tmp);
    expect(
      await runCli(
        [
          'sweep',
          '--config',
          'tiny_sft.yaml',
          '--grid',
          'policy.optimizer.kwargs.lr=1e-3,3e-2',
          '--grid',
          'seed=1,2',
          '--random',
          '1',
          '--seed',
          '3',
          '--out',
          'sw',
          '--backend',
          'wasm',
        ],
        again.io,
      ),
    ).toBe(0);
    const added = fs
      .readdirSync(path.join(tmp, 'sw'))
      .filter((n) => !dirs.includes(n))
      .sort();
    // one run directory (its name taken: `-2`), and the second sweep's summaries
    expect(added.filter((n) => n.endsWith('-2'))).toHaveLength(1);
    expect(dirs).toContain(added.find((n) => n.endsWith('-2'))!.slice(0, -2));
    expect(added).toEqual(expect.arrayContaining(['sweep_summary-2.json', 'sweep_summary-2.md']));
    expect(added).toHaveLength(5);
    expect(fs.readFileSync(path.join(tmp, 'sw', dirs[0]!, 'metrics.jsonl'), 'utf8')).toBe(before);

    // and the sweep's runs compare: two settings of lr, two seeds each
    const cmp = makeFakeIo(tmp);
    expect(
      await runCli(
        ['compare', ...dirs.map((d) => `sw/${d}`), '--metric', 'train/loss', '--out', 'sw.html'],
        cmp.io,
      ),
    ).toBe(0);
    expect(cmp.out.join('\n')).toContain('4 runs in 2 settings');
  });

  it('a bad key in any setting exits 2 before the first run', async () => {
    const { io, err } = makeFakeIo(tmp);
    expect(
      await runCli(
        ['sweep', '--config', 'tiny_sft.yaml', '--grid', 'sft.max_num_stepz=1,2', '--out', 'bad'],
        io,
      ),
    ).toBe(2);
    expect(err.join('\n')).toContain('sft.max_num_stepz: unknown key');
    expect(fs.existsSync(path.join(tmp, 'bad'))).toBe(false);
    const missing = makeFakeIo(tmp);
    expect(await runCli(['sweep', '--config', 'tiny_sft.yaml', '--out', 'x'], missing.io)).toBe(2);
    expect(missing.err.join('\n')).toContain('missing --grid');
  });
});
