// End-to-end: spawn the real binary the way users run it, and check exit codes and output.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(
  args: string[],
  env: Record<string, string> = {},
  file = process.execPath,
  pre = ['apps/cli/bin/rxrl.js'],
): Promise<Result> {
  const base = { ...process.env };
  delete base['RXRL_BACKEND'];
  delete base['RXRL_DEBUG'];
  return new Promise((resolve) => {
    execFile(
      file,
      [...pre, ...args],
      { cwd: root, env: { ...base, ...env }, timeout: 110_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr: stderr.replace(/^npm warn.*\n/gm, '') });
      },
    );
  });
}

// what `npm install` left: the native backend's addon, which auto then picks
const nativeBuilt = fs.existsSync(
  fileURLToPath(
    new URL('../../../libs/core/native/build/Release/rxrl_native.node', import.meta.url),
  ),
);

const tensorflowInstalled = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'].some((name) => {
  try {
    createRequire(import.meta.url).resolve(name);
    return true;
  } catch {
    return false;
  }
});

// Start every process at once: the suite costs one process start, not ten.
const blocker = path.join(tmp, 'a-file');
fs.writeFileSync(blocker, '');
const results = {
  help: run(['--help']),
  configHelp: run(['config', '-h']),
  config: run(['config', 'configs/base.yaml', 'seed=3', 'logger.log_dir=runs/x']),
  configBad: run(['config', 'apps/cli/test/fixtures/bad.yaml', 'seed=1e-3']),
  unknown: run(['confg', 'configs/base.yaml']),
  backendCpu: run(['--backend', 'cpu', 'backend']),
  backendAuto: run(['backend']),
  backendTf: run(['backend'], { RXRL_BACKEND: 'tensorflow' }),
  failure: run(['config', 'configs/base.yaml', '--save', path.join(blocker, 'run')], {
    RXRL_DEBUG: '1',
  }),
  npm: run(['run', '-s', 'rxrl', '--', 'version'], {}, 'npm', []),
};

describe('rxrl binary', () => {
  it('--help lists the commands, exit 0', async () => {
    const r = await results.help;
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^rxrl — post-training/);
    for (const name of ['backend', 'config', 'version'])
      expect(r.stdout).toMatch(new RegExp(`\\n  ${name} +\\S`));
  });

  it('per-command -h shows usage, exit 0', async () => {
    const r = await results.configHelp;
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      'Usage: rxrl config <recipe.yaml> [key.path=value ...] [--save <dir>]',
    );
    expect(r.stdout).toContain('--save <dir>');
  });

  it('config prints the resolved config with defaults and overrides, exit 0', async () => {
    const r = await results.config;
    expect(r).toEqual({ code: 0, stdout: 'seed: 3\nlogger:\n  log_dir: runs/x\n', stderr: '' });
  });

  it('config errors: every error with file:line or command line, exit 2, no stack', async () => {
    const r = await results.configBad;
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      [
        'rxrl config: 2 configuration errors:',
        '  apps/cli/test/fixtures/bad.yaml:2 loger: unknown key, got {"log_dir":"out"}; did you mean `logger`?',
        '  command line seed: expected an integer, got 0.001',
        '',
      ].join('\n'),
    );
  });

  it('unknown command: did you mean, exit 2', async () => {
    const r = await results.unknown;
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "rxrl: unknown command 'confg'; did you mean 'config'?\nRun 'rxrl --help' for usage.\n",
    );
  });

  it('backend --backend cpu prints the one backend line, exit 0', async () => {
    const r = await results.backendCpu;
    expect(r).toEqual({
      code: 0,
      stdout: 'rxrl: backend cpu — requested by --backend\n',
      stderr: '',
    });
  });

  it('backend with auto names the pick and why', async () => {
    const r = await results.backendAuto;
    expect(r.code).toBe(0);
    const first = r.stdout.split('\n')[0];
    if (tensorflowInstalled)
      expect(first).toMatch(/^rxrl: backend tensorflow \(@tensorflow\/tfjs-node(-gpu)?\) — auto: /);
    else if (first.startsWith('rxrl: backend webgpu'))
      // a GPU machine: auto takes a hardware adapter, never a CPU implementation of WebGPU
      expect(first).toMatch(
        /^rxrl: backend webgpu — auto: WebGPU adapter (?!.*a CPU implementation)/,
      );
    else if (nativeBuilt)
      expect(first).toMatch(
        /^rxrl: backend native — auto: no @tensorflow\/tfjs-node\(-gpu\) installed; the native addon is built: C kernels \(OpenBLAS sgemm on \d+ thread\(s\)\)/,
      );
    else {
      expect(
        first.startsWith(
          'rxrl: backend wasm — auto: no @tensorflow/tfjs-node(-gpu) installed and the native addon is not built (`npm run build:native`), so wasm (XNNPACK, SIMD, 4 GiB heap); ',
        ),
      ).toBe(true);
      // then how to build the optional native OpenBLAS matMul
      expect(first).toMatch(/; native matMul addon not built .*npm run build:native/);
      expect(r.stdout).toContain('npm install @tensorflow/tfjs-node-gpu@4.22.0');
    }
  });

  it('RXRL_BACKEND=tensorflow without tfjs-node is a configuration error with install instructions, exit 2', async () => {
    const r = await results.backendTf;
    if (tensorflowInstalled) {
      expect(r.code).toBe(0);
      return;
    }
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^rxrl backend: backend 'tensorflow' was requested \(RXRL_BACKEND\) but neither @tensorflow\/tfjs-node-gpu nor @tensorflow\/tfjs-node could be loaded\./,
    );
    expect(r.stderr).toContain('CUDA 11.8 and cuDNN 8.6');
  });

  it('a failure during a run exits 1 with the message, and the stack under RXRL_DEBUG=1', async () => {
    const r = await results.failure;
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('seed: 42\nlogger:\n  log_dir: null\n');
    const lines = r.stderr.split('\n');
    expect(lines[0]).toMatch(
      /^rxrl config: failed: ENOTDIR: not a directory, mkdir '.*a-file\/run'$/,
    );
    expect(lines[1]).toMatch(/^Error: ENOTDIR/);
    expect(lines.slice(2).some((line) => /^\s+at .*resolvedConfig\.ts/.test(line))).toBe(true);
  });

  it('npm run rxrl -- version works from the repository root', async () => {
    const r = await results.npm;
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^rxrl \d+\.\d+\.\d+\nnode v\d+\.\d+\.\d+\n@tensorflow\/tfjs-core 4\.22\.0\n$/,
    );
  });
});
