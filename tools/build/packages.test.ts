// The packages as a user gets them: pack every workspace, install the tarballs into a
// scratch project outside the repository (third-party dependencies from the npm cache
// the repository's own install filled, or the registry), and use them there with no
// tsx and no workspace: plain Node ESM imports, `tsc --strict` over their types, and the
// rxrl command line training two steps.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain JS tool without types
import { packAll } from './pack.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  license?: string;
  engines?: Record<string, string>;
  repository?: { url: string; directory: string };
  files?: string[];
  bin?: Record<string, string>;
  exports?: Record<string, unknown>;
  dependencies?: Record<string, string>;
}

const workspaces: { dir: string; manifest: Manifest }[] = ['libs', 'apps'].flatMap((parent) =>
  readdirSync(join(root, parent)).map((name) => ({
    dir: `${parent}/${name}`,
    manifest: JSON.parse(
      readFileSync(join(root, parent, name, 'package.json'), 'utf8'),
    ) as Manifest,
  })),
);
const workspaceVersion = (name: string) =>
  (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as Manifest)
    .version;

// Children get a clean environment: not the workspace's source condition, and not the
// npm_config_* of an `npm test` that started us (they would point npm at the repository).
const env = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^(npm_|NODE_OPTIONS$|INIT_CWD$|NX_)/i.test(k)),
) as NodeJS.ProcessEnv;

let scratch = '';
let tarballs: { name: string; filename: string; files: { path: string }[] }[] = [];
let install: SpawnSyncReturns<string>;

function run(cmd: string, args: string[], cwd = scratch): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 240_000 });
}
function ok(r: SpawnSyncReturns<string>): string {
  if (r.status !== 0) throw new Error(`exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'rxrl-packages-'));
  tarballs = packAll(join(scratch, 'tarballs'));
  const deps = Object.fromEntries(tarballs.map((t) => [t.name, `file:./tarballs/${t.filename}`]));
  // what a user adds beside rxrl: TensorFlow.js for their own tensors, TypeScript and Node's types
  for (const name of ['@tensorflow/tfjs-core', 'typescript', '@types/node']) {
    deps[name] = workspaceVersion(name);
  }
  writeFileSync(
    join(scratch, 'package.json'),
    JSON.stringify({
      name: 'rxrl-user',
      private: true,
      type: 'module',
      dependencies: deps,
      // npm 11 runs a dependency's install script only when the project allows it
      allowScripts: { '@rxrl/core': true },
    }),
  );
  install = run('npm', [
    'install',
    '--prefer-offline',
    '--no-audit',
    '--no-fund',
    '--foreground-scripts',
  ]);
  ok(install);
});

afterAll(() => {
  if (scratch && !process.env['RXRL_KEEP_SCRATCH'])
    rmSync(scratch, { recursive: true, force: true });
});

describe('published packages', () => {
  it('every workspace is packed, with the fields a registry needs', () => {
    expect(tarballs.map((t) => t.name).sort()).toEqual(
      workspaces.map((w) => w.manifest.name).sort(),
    );
    for (const { dir, manifest } of workspaces) {
      expect(manifest.private, dir).toBe(false);
      expect(manifest.license, dir).toBe('Apache-2.0');
      expect(manifest.engines?.['node'], dir).toBe('>=20');
      expect(manifest.repository?.directory, dir).toBe(dir);
      expect(manifest.files, dir).toBeDefined();
      for (const [name, range] of Object.entries(manifest.dependencies ?? {})) {
        // workspace packages move in lockstep: a range that a registry can satisfy
        if (name.startsWith('@rxrl/'))
          expect(range, `${dir} -> ${name}`).toBe(`^${manifest.version}`);
      }
    }
  });

  it('tarballs hold built code, types and maps, and no sources, tests or fixtures', () => {
    for (const t of tarballs) {
      const paths = t.files.map((f) => f.path);
      const stray = paths.filter(
        (p) =>
          /(^|\/)(test|tests|fixtures|testing)\//.test(p) ||
          /\.test\.|\.testkit\.|\.tsbuildinfo$/.test(p) ||
          /^src\//.test(p) ||
          (/\.ts$/.test(p) && !/\.d\.ts$/.test(p)),
      );
      expect(stray, t.name).toEqual([]);
      const manifest = workspaces.find((w) => w.manifest.name === t.name)!.manifest;
      if (manifest.exports?.['.']) {
        expect(paths, t.name).toEqual(
          expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'dist/index.js.map']),
        );
      }
    }
    const core = tarballs.find((t) => t.name === '@rxrl/core')!.files.map((f) => f.path);
    expect(core).toEqual(
      expect.arrayContaining(['native/binding.gyp', 'native/install.mjs', 'native/src/sgemm.c']),
    );
    expect(core.filter((p) => p.startsWith('native/build/'))).toEqual([]);
  });

  it('installs as real packages, and @rxrl/core runs its native install script', () => {
    for (const t of tarballs) {
      expect(lstatSync(join(scratch, 'node_modules', t.name)).isSymbolicLink(), t.name).toBe(false);
    }
    // built, up to date, or skipped with the reason: never a failed install
    expect(install.stdout).toMatch(
      /rxrl: native backend (built|up to date|not built|build failed)/,
    );
    // no TypeScript runner at run time
    expect(existsSync(join(scratch, 'node_modules/tsx'))).toBe(false);
  });

  it('(a) every library and subpath imports from plain Node ESM', () => {
    const specifiers = workspaces.flatMap(({ manifest }) =>
      Object.keys(manifest.exports ?? {})
        .filter((sub) => sub !== './package.json' && sub !== './launch')
        .map((sub) => manifest.name + sub.slice(1)),
    );
    copyFileSync(join(here, 'consumer/imports.mjs'), join(scratch, 'imports.mjs'));
    const counts = JSON.parse(ok(run(process.execPath, ['imports.mjs', ...specifiers]))) as Record<
      string,
      number
    >;
    expect(Object.keys(counts).sort()).toEqual([...specifiers].sort());
    expect(counts['@rxrl/loss']).toBeGreaterThan(20);
  });

  it('(b) a TypeScript program type-checks with tsc --strict against the .d.ts, and runs', () => {
    for (const f of ['usage.mts', 'tsconfig.json']) {
      copyFileSync(join(here, 'consumer', f), join(scratch, f));
    }
    ok(run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json']));
    const out = JSON.parse(ok(run(process.execPath, ['out/usage.mjs']))) as {
      draws: number[];
      seed: number;
      lossValue: number;
      metricKeys: number;
      answer: string;
      isError: boolean;
    };
    expect(out.seed).toBe(7);
    // the same draws as the sources give (`new Rng(7)` in the repository: 3, 92)
    expect(out.draws).toEqual([3, 92]);
    // token-mean of -min(r·A, clip(r, 0.8, 1.28)·A) over ratios 0.5, 1, 1.5 with A = 1
    expect(out.lossValue).toBeCloseTo(-(0.5 + 1 + 1.28) / 3, 5);
    expect(out.metricKeys).toBeGreaterThan(0);
    expect(out.answer).toBe('42');
    expect(out.isError).toBe(true);
  });

  it('worker threads start from the built code: data-parallel replicas train', () => {
    copyFileSync(join(here, 'consumer/parallel.mjs'), join(scratch, 'parallel.mjs'));
    const losses = JSON.parse(ok(run(process.execPath, ['parallel.mjs']))) as number[];
    expect(losses).toHaveLength(3);
    // the same batch three times: the loss falls, from about ln(64) for random weights
    expect(losses[0]).toBeGreaterThan(3.5);
    expect(losses[2]).toBeLessThan(losses[0]!);
  });

  it('(c) rxrl --help, rxrl version and a two-step rxrl sft run from the installed package', () => {
    const rxrl = join(scratch, 'node_modules/.bin/rxrl');
    expect(ok(run(rxrl, ['--help']))).toMatch(/Usage: rxrl/);
    expect(ok(run(rxrl, ['version']))).toMatch(/^rxrl 0\.\d+\.\d+\n/);
    expect(ok(run(join(scratch, 'node_modules/.bin/rxrl-sft'), ['--help']))).toMatch(/rxrl sft/);
    for (const f of ['base.yaml', 'sft_arithmetic.yaml']) {
      copyFileSync(join(root, 'configs', f), join(scratch, f));
    }
    const sft = run(rxrl, [
      'sft',
      '--config',
      'sft_arithmetic.yaml',
      '--run-dir',
      'run',
      'policy.init={arch: llama, preset: tiny, config_overrides: {hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 2, max_position_embeddings: 32}}',
      'policy.train_global_batch_size=4',
      'policy.train_micro_batch_size=2',
      'policy.scheduler={name: constant}',
      'sft.max_num_steps=2',
      'sft.val_at_start=false',
      'sft.val_period=0',
      'sft.val_global_batch_size=8',
      'sft.val_micro_batch_size=8',
      'sft.val_generation={num_prompts: 2, max_new_tokens: 2}',
      'data.num_train_examples=64',
      'data.num_val_examples=8',
    ]);
    ok(sft);
    expect(sft.stderr + sft.stdout).toMatch(/sft done \(max_num_steps\): 2 steps/);
    const rows = readFileSync(join(scratch, 'run/metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { step: number; 'train/loss': number });
    expect(rows.map((r) => r.step)).toEqual([1, 2]);
    for (const r of rows) expect(Number.isFinite(r['train/loss'])).toBe(true);
    expect(existsSync(join(scratch, 'run/final_model/config.json'))).toBe(true);
  });
});
