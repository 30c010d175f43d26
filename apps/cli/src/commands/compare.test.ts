import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JsonlSink } from '@rxrl/logging';
import { runCli } from '../cli';
import { fakeIo as makeFakeIo } from '../testing/fakeIo';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-compare-cmd-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A synthetic run: config.yaml (lr, seed, its own log_dir) and 3 validations ending at `final`. */
function run(name: string, lr: number, seed: number, final: number): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'config.yaml'),
    `seed: ${seed}\nlogger:\n  log_dir: runs/${name}\npolicy:\n  optimizer:\n    kwargs:\n      lr: ${lr}\nsft:\n  max_num_steps: 20\n`,
  );
  const sink = new JsonlSink(path.join(dir, 'metrics.jsonl'));
  for (const [step, frac] of [
    [0, 0],
    [10, 0.5],
    [20, 1],
  ] as const)
    sink.record({
      step,
      metrics: {
        'validation/accuracy': 0.3 + frac * (final - 0.3),
        'train/loss': 2 - frac + seed / 100,
      },
    });
  return name;
}

describe('rxrl compare', () => {
  const a = [run('a1', 1e-4, 1, 0.61), run('a2', 1e-4, 2, 0.58), run('a3', 1e-4, 3, 0.64)];
  const b = [run('b1', 3e-4, 1, 0.52), run('b2', 3e-4, 2, 0.55), run('b3', 3e-4, 3, 0.5)];

  it('groups runs by config except the seed, and tests the final values with Welch’s t-test', async () => {
    const { io, out } = makeFakeIo(tmp);
    expect(
      await runCli(
        ['compare', ...a, ...b, '--metric', 'validation/accuracy', '--out', 'cmp.html'],
        io,
      ),
    ).toBe(0);
    const text = out.join('\n');
    expect(text).toContain('6 runs in 2 settings');
    expect(text).toContain('policy.optimizer.kwargs.lr=0.0001: a1, a2, a3');
    expect(text).toContain('policy.optimizer.kwargs.lr=0.0003: b1, b2, b3');
    // means 0.61 and 0.5233; sd 0.03 and 0.02517: t = 3.8335, df = 3.8826, p = 0.019616 (scipy)
    expect(text).toContain('0.61 ± 0.07452 (3 runs, 95% CI)');
    expect(text).toMatch(
      /lr=0\.0001 vs .*lr=0\.0003: difference \+0\.08667; Welch's t-test t = 3\.833, df = 3\.883, p = 0\.0196: significant at α = 0\.05/,
    );
    const html = fs.readFileSync(path.join(tmp, 'cmp.html'), 'utf8');
    // one band per setting (3 runs at each step), the test table with its verdict
    expect(html.match(/<polygon /g)).toHaveLength(2);
    expect(html).toContain("Welch's unequal-variances t-test");
    expect(html).toContain('<td>0.0196</td><td class="ok">yes</td>');
  });

  it('a difference within the noise is not significant; the default metrics are those every run logged', async () => {
    const { io, out } = makeFakeIo(tmp);
    expect(
      await runCli(
        ['compare', 'a1', 'a2', 'b1', 'b2', '--alpha', '0.01', '--out', 'cmp2.html'],
        io,
      ),
    ).toBe(0);
    const text = out.join('\n');
    expect(text).toContain('train/loss (final value):');
    expect(text).toContain('validation/accuracy (final value):');
    // 0.61, 0.58 vs 0.52, 0.55: t = 2.828, df = 2, p = 0.1056 (scipy)
    expect(text).toMatch(/t = 2\.828, df = 2, p = 0\.106: not significant at α = 0\.01/);
  });

  it('never overwrites a report without --force; exits 2 for a directory that is not a run', async () => {
    const first = makeFakeIo(tmp);
    expect(await runCli(['compare', ...a, '--out', 'cmp.html'], first.io)).toBe(2);
    expect(first.err.join('\n')).toContain('cmp.html exists; choose another --out or pass --force');
    const forced = makeFakeIo(tmp);
    expect(await runCli(['compare', ...a, '--out', 'cmp.html', '--force'], forced.io)).toBe(0);
    expect(forced.out.join('\n')).toContain('1 setting');
    fs.mkdirSync(path.join(tmp, 'empty'));
    const bad = makeFakeIo(tmp);
    expect(await runCli(['compare', 'a1', 'empty', '--out', 'x.html'], bad.io)).toBe(2);
    expect(bad.err.join('\n')).toContain('empty: no metrics.jsonl');
    const missing = makeFakeIo(tmp);
    expect(
      await runCli(
        ['compare', 'a1', 'b1', '--metric', 'validation/reward', '--out', 'y.html'],
        missing.io,
      ),
    ).toBe(2);
    expect(missing.err.join('\n')).toContain('--metric validation/reward: not logged by a1, b1');
  });
});
