// Whole runs on the webgpu backend against wasm: opt-in (RXRL_TEST_BACKEND=webgpu, as
// tools/gpu/test-webgpu.sh sets it) and only where Dawn finds an adapter — a GPU, or
// lavapipe from tools/gpu/setup-lavapipe.sh. Elsewhere every test here is skipped.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { probeWebgpuIsolated } from '@rxrl/core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const wanted = process.env['RXRL_TEST_BACKEND'] === 'webgpu';
const available = wanted && probeWebgpuIsolated().available;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-webgpu-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function rxrl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env['RXRL_BACKEND'];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['apps/cli/bin/rxrl.js', ...args],
      { cwd: root, env, timeout: 600_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

function metrics(dir: string): Array<Record<string, number>> {
  return fs
    .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, number>);
}

const SFT = [
  'sft',
  '--config',
  'configs/sft_arithmetic.yaml',
  'sft.max_num_steps=4',
  'sft.val_at_start=false',
  'sft.val_period=4',
  'sft.val_generation.num_prompts=16',
  'sft.val_global_batch_size=32',
  'sft.val_micro_batch_size=32',
  'data.num_val_examples=32',
];

describe.runIf(available)('whole runs on webgpu', () => {
  it('4 SFT steps give the losses and gradient norms of the same run on wasm', async () => {
    const [gpu, wasm] = await Promise.all(
      ['webgpu', 'wasm'].map((b) =>
        rxrl([...SFT, '--backend', b, '--run-dir', path.join(tmp, `sft-${b}`)]),
      ),
    );
    expect(gpu!.code, gpu!.stderr).toBe(0);
    expect(wasm!.code, wasm!.stderr).toBe(0);
    expect(gpu!.stdout).toMatch(/^rxrl: backend webgpu — requested by --backend: WebGPU adapter /m);
    const a = metrics(path.join(tmp, 'sft-webgpu'));
    const b = metrics(path.join(tmp, 'sft-wasm'));
    expect(a.map((m) => m['step'])).toEqual([1, 2, 3, 4]);
    let worst = 0;
    for (let i = 0; i < 4; i++) {
      for (const key of ['train/loss', 'train/grad_norm']) {
        const rel = Math.abs(a[i]![key]! - b[i]![key]!) / Math.abs(b[i]![key]!);
        worst = Math.max(worst, rel);
      }
    }
    // measured on lavapipe: 2e-6 at most (float32 sums in another order)
    console.log(`sft webgpu vs wasm: worst relative difference ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-4);
    expect(a[3]!['validation/loss']).toBeCloseTo(b[3]!['validation/loss']!, 4);
  }, 600_000);

  it('GRPO with generation_worker enabled generates on the main thread and exits cleanly', async () => {
    const r = await rxrl([
      'grpo',
      '--config',
      'configs/grpo_arithmetic.yaml',
      'grpo.max_num_steps=2',
      'grpo.val_at_start=false',
      'grpo.val_at_end=false',
      'grpo.num_prompts_per_step=4',
      'grpo.num_generations_per_prompt=4',
      'policy.train_global_batch_size=16',
      'policy.train_micro_batch_size=16',
      'policy.generation.generation_batch_size=16',
      'grpo.use_dynamic_sampling=false',
      '--backend',
      'webgpu',
      '--run-dir',
      path.join(tmp, 'grpo'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      'rxrl: generation on the main thread (grpo.generation_worker is not used on the webgpu backend)',
    );
    expect(r.stdout).toContain('rxrl: stopped after step 2 (max_num_steps)');
    expect(metrics(path.join(tmp, 'grpo')).filter((m) => 'train/loss' in m)).toHaveLength(2);
  }, 600_000);
});
