// Numerical faults through `rxrl sft`: a diverging run (lr 1e30: step 1 blows the weights up,
// step 2's gradient is NaN) under policy.on_nonfinite stop and skip_step.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, metricsRows, tinySft } from './tinySft';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-nonfinite-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const run = (dir: string, extra: string[]) =>
  cli([
    'sft',
    '--config',
    'configs/sft_arithmetic.yaml',
    ...tinySft(5),
    'policy.max_grad_norm=null',
    'checkpointing.save_period=1000',
    ...extra,
    '--run-dir',
    dir,
    '--backend',
    'wasm',
  ]);

describe('policy.on_nonfinite through rxrl sft', () => {
  it('stop: exit 1 naming the step and metric, checkpoint of the last good step, resumable', async () => {
    const dir = path.join(tmp, 'stop');
    const r = await run(dir, ['policy.optimizer.kwargs.lr=1e30']);
    expect(r.code).toBe(1);
    expect(r.out).toContain(
      // where it started: the forward pass is finite, the backward overflows in these layers
      'rxrl: non-finite grad_norm (NaN) at step 2; the update was not applied; the forward pass and the loss are finite; the backward pass is not: non-finite gradients in embed_tokens, layers.0; stopping (policy.on_nonfinite: stop)',
    );
    expect(r.err).toContain(
      'rxrl sft: failed: non-finite grad_norm (NaN) at step 2; the update was not applied; the forward pass and the loss are finite; the backward pass is not: non-finite gradients in embed_tokens, layers.0',
    );
    expect(
      fs.readdirSync(path.join(dir, 'checkpoints')).filter((d) => d.startsWith('step_')),
    ).toEqual(['step_00000001']);
    expect(metricsRows(dir).map((m) => m['step'])).toEqual([1]);
    // the checkpoint loads and the run continues from it
    const again = await run(dir, [
      'policy.optimizer.kwargs.lr=1e30',
      'policy.on_nonfinite=skip_step',
    ]);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/rxrl: resumed from .*step_00000001 \(step 1, epoch 0, batch 1\)/);
  });

  it('skip_step: every bad step logged with its step and metric, the run finishes', async () => {
    const dir = path.join(tmp, 'skip');
    const r = await run(dir, ['policy.optimizer.kwargs.lr=1e30', 'policy.on_nonfinite=skip_step']);
    expect(r.code).toBe(0);
    for (const step of [2, 3, 4, 5])
      expect(r.out).toContain(
        `rxrl: non-finite grad_norm (NaN) at step ${step}; the update was not applied; the forward pass and the loss are finite; the backward pass is not: non-finite gradients in embed_tokens, layers.0; skipped (policy.on_nonfinite: skip_step)`,
      );
    const rows = metricsRows(dir);
    expect(rows.map((m) => m['step'])).toEqual([1, 2, 3, 4, 5]);
    expect(Number.isFinite(rows[0]!['train/loss'])).toBe(true);
    for (const m of rows.slice(1)) {
      expect(m['train/nonfinite/grad_norm']).toBe(1);
      expect(m['train/loss']).toBeUndefined();
    }
  });
});
