import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readMetricsJsonl } from '@rxrl/logging';
import { runCli } from '../cli';
import { fakeIo as makeFakeIo } from '../testing/fakeIo';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-train-cmd-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A recipe in the scratch directory naming `algorithm`, with a tiny fresh policy. */
function recipe(name: string, algorithm: string, extra = ''): string {
  const file = path.join(tmp, `${name}.yaml`);
  fs.writeFileSync(
    file,
    `algorithm: ${algorithm}\npolicy:\n  init: { arch: llama, preset: tiny }\n${extra}`,
  );
  return file;
}

describe('rxrl train (algorithm plugins)', () => {
  it('runs the example plugin 2 steps: metrics, checkpoint with its state, exported policy, resume', async () => {
    const runDir = path.join(tmp, 'ul');
    const args = [
      'train',
      '--config',
      'examples/unlikelihood_plugin.yaml',
      'unlikelihood.max_num_steps=2',
      'unlikelihood.val_period=0',
      'unlikelihood.num_train_examples=96',
      'unlikelihood.num_val_examples=16',
      'checkpointing.save_period=1',
      '--run-dir',
      runDir,
      '--backend',
      'wasm',
    ];
    const { io, out, err } = makeFakeIo(root);
    expect(await runCli(args, io), err.join('\n')).toBe(0);
    const text = out.join('\n');
    expect(text).toContain('rxrl: unlikelihood training on 96 pairs, alpha 0.5');
    const rows = readMetricsJsonl(path.join(runDir, 'metrics.jsonl'));
    const train = rows.filter((r) => r['train/loss'] !== undefined);
    expect(train.map((r) => r['step'])).toEqual([1, 2]);
    for (const r of train) {
      // loss = nll + 0.5·unlikelihood, each a global-batch token mean
      expect(r['train/loss']!).toBeCloseTo(r['train/nll']! + 0.5 * r['train/unlikelihood']!, 5);
      expect(Number.isFinite(r['train/grad_norm']!)).toBe(true);
    }
    // validation at the start and at the end, from the plugin's validate()
    const val = rows.filter((r) => r['validation/preference_accuracy'] !== undefined);
    expect(val.map((r) => r['step'])).toEqual([0, 2]);
    expect(text).toMatch(
      /held-out preference_accuracy \d\.\d{4} \(step 0\) -> \d\.\d{4} \(step 2\)/,
    );
    expect(fs.existsSync(path.join(runDir, 'final_model', 'config.json'))).toBe(true);
    expect(fs.existsSync(path.join(runDir, 'report.html'))).toBe(true);
    // a longer run resumes from step 2
    const more = makeFakeIo(root);
    const longer = args.map((a) =>
      a === 'unlikelihood.max_num_steps=2' ? 'unlikelihood.max_num_steps=3' : a,
    );
    expect(await runCli(longer, more.io), more.err.join('\n')).toBe(0);
    expect(more.out.join('\n')).toMatch(/resumed from .*step 2/);
    expect(
      readMetricsJsonl(path.join(runDir, 'metrics.jsonl'))
        .filter((r) => r['train/loss'] !== undefined)
        .map((r) => r['step']),
    ).toEqual([1, 2, 3]);
  });

  it('an unknown module, a missing export or a wrong shape exits 2 naming the file and key', async () => {
    fs.writeFileSync(
      path.join(tmp, 'shapes.mjs'),
      'export const NotAlgo = { name: "x" };\nexport const other = 1;\n',
    );
    const cases: [string, RegExp][] = [
      [
        recipe('nofile', './nope.ts#MyAlgo'),
        /nofile\.yaml:1 algorithm: \.\/nope\.ts#MyAlgo: no such file .*nope\.ts/,
      ],
      [
        recipe('noexport', './shapes.mjs#MyAlgo'),
        /noexport\.yaml:1 algorithm: \.\/shapes\.mjs#MyAlgo: \.\/shapes\.mjs has no export 'MyAlgo' \(it exports NotAlgo, other\)/,
      ],
      [
        recipe('shape', './shapes.mjs#NotAlgo'),
        /shape\.yaml:1 algorithm: \.\/shapes\.mjs#NotAlgo: 'NotAlgo' is not a TrainingAlgorithm: `options` is not a zod object schema.*`build\(context\)` is missing/,
      ],
      [
        recipe('builtin', 'grpo'),
        /builtin\.yaml:1 algorithm: grpo is built in: run it with rxrl grpo/,
      ],
    ];
    for (const [file, message] of cases) {
      const { io, err } = makeFakeIo(tmp);
      expect(await runCli(['train', '--config', file], io)).toBe(2);
      expect(err.join('\n')).toMatch(message);
      expect(err).toHaveLength(1);
    }
    // a typo in the plugin's own section is reported at its line, like any recipe key
    const typo = recipe(
      'typo',
      path.join(root, 'examples/unlikelihood_plugin.ts#UnlikelihoodSft'),
      'unlikelihood:\n  alpah: 1\n',
    );
    const t = makeFakeIo(tmp);
    expect(await runCli(['train', '--config', typo, '--backend', 'wasm'], t.io)).toBe(2);
    expect(t.err.join('\n')).toMatch(
      /typo\.yaml:5 unlikelihood\.alpah: unknown key.*did you mean `alpha`/,
    );
    // rxrl config resolves a plugin recipe with the plugin's own section and the loop keys
    const c = makeFakeIo(root);
    expect(await runCli(['config', 'examples/unlikelihood_plugin.yaml'], c.io)).toBe(0);
    expect(c.out.join('\n')).toMatch(/unlikelihood:\n  max_num_steps: 20\n[\s\S]*  alpha: 0\.5/);
  });
});
