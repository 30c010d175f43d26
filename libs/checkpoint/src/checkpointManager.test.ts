import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '@rxrl/core/base';
import { describe, expect, it } from 'vitest';
import { CheckpointManager } from './checkpointManager';
import { checkpointingSchema } from './checkpointOptions';

const tmp = () => mkdtempSync(join(tmpdir(), 'rxrl-ckpt-'));
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe('CheckpointManager', () => {
  it('saves atomically into step_<n> and loads back verified bytes', () => {
    const m = new CheckpointManager(tmp());
    const info = m.save({
      step: 7,
      metrics: { 'validation/accuracy': 0.5 },
      files: { 'state.json': '{"a":1}', 'w.bin': new Uint8Array([1, 2, 3]) },
    });
    expect(info.dir.endsWith('step_00000007')).toBe(true);
    const { manifest, files } = m.load(info.dir);
    expect(manifest.step).toBe(7);
    expect(manifest.metrics).toEqual({ 'validation/accuracy': 0.5 });
    expect(text(files['state.json']!)).toBe('{"a":1}');
    expect(Array.from(files['w.bin']!)).toEqual([1, 2, 3]);
    expect(readdirSync(m.root)).toEqual(['step_00000007']);
  });

  it('writes a file given as pieces as their concatenation, with its size and SHA-256 in the manifest', async () => {
    const { createHash } = await import('node:crypto');
    const m = new CheckpointManager(tmp());
    const pieces = [new Uint8Array([1, 2]), new Uint8Array(0), new Uint8Array([3, 4, 5])];
    const info = m.save({ step: 1, files: { 'p.bin': pieces } });
    const joined = new Uint8Array([1, 2, 3, 4, 5]);
    expect(info.manifest.files['p.bin']).toEqual({
      bytes: 5,
      sha256: createHash('sha256').update(joined).digest('hex'),
    });
    expect(Array.from(m.load(info.dir).files['p.bin']!)).toEqual([1, 2, 3, 4, 5]);
  });

  it('detects a corrupted file and latest() falls back to the previous good checkpoint', () => {
    const m = new CheckpointManager(tmp());
    m.save({ step: 1, files: { 'w.bin': new Uint8Array([1]) } });
    const second = m.save({ step: 2, files: { 'w.bin': new Uint8Array([2]) } });
    writeFileSync(join(second.dir, 'w.bin'), new Uint8Array([9]));
    expect(() => m.load(second.dir)).toThrow(/file 'w.bin' does not match its manifest checksum/);
    expect(m.latest()!.step).toBe(1);
  });

  it('keeps the newest k checkpoints', () => {
    const m = new CheckpointManager(tmp(), { keepTopK: 2 });
    for (const step of [1, 2, 3, 4]) m.save({ step, files: { 's.json': '{}' } });
    expect(m.list().map((c) => c.step)).toEqual([3, 4]);
  });

  it('keeps the best k by a metric plus always the newest, and best() picks the top one', () => {
    const m = new CheckpointManager(tmp(), {
      keepTopK: 2,
      metricName: 'validation/loss',
      higherIsBetter: false,
    });
    const losses = [0.9, 0.3, 0.5, 0.2, 0.8];
    losses.forEach((loss, i) =>
      m.save({ step: i + 1, metrics: { 'validation/loss': loss }, files: { 's.json': '{}' } }),
    );
    // best two: steps 4 (0.2) and 2 (0.3); newest (5) is kept for resume
    expect(m.list().map((c) => c.step)).toEqual([2, 4, 5]);
    expect(m.best()!.step).toBe(4);
  });

  it('re-saving a step replaces it, and leftover temp dirs of dead writers are ignored then removed', () => {
    const root = tmp();
    mkdirSync(join(root, '.tmp-step_00000009-99999-1'));
    writeFileSync(join(root, '.tmp-step_00000009-99999-1', 'manifest.json'), '{}');
    const m = new CheckpointManager(root);
    expect(m.latest()).toBeNull();
    m.save({ step: 3, files: { 'x.txt': 'old' } });
    m.save({ step: 3, files: { 'x.txt': 'new' } });
    expect(text(m.load(m.latest()!.dir).files['x.txt']!)).toBe('new');
    expect(readdirSync(root)).toEqual(['step_00000003']);
  });

  it('rejects reserved file names and bad steps', () => {
    const m = new CheckpointManager(tmp());
    expect(() => m.save({ step: 1, files: { 'manifest.json': '' } })).toThrow(/reserved/);
    expect(() => m.save({ step: 1, files: { 'a/b': '' } })).toThrow(/not a plain file name/);
    expect(() => m.save({ step: -1, files: {} })).toThrow(/non-negative integer/);
    expect(readdirSync(m.root, { withFileTypes: true }).length).toBe(0);
  });

  it('two saves of the same step in one millisecond both succeed, the second wins', () => {
    const m = new CheckpointManager(tmp());
    m.save({ step: 1, files: { 'x.txt': 'a' } });
    m.save({ step: 1, files: { 'x.txt': 'b' } });
    expect(text(m.load(m.latest()!.dir).files['x.txt']!)).toBe('b');
    expect(readdirSync(m.root)).toEqual(['step_00000001']);
  });

  it('a writer killed with SIGKILL at random moments always leaves a loadable, consistent checkpoint', async () => {
    const rng = new Rng(2024);
    const child = fileURLToPath(new URL('../test/writer.child.ts', import.meta.url));
    for (let trial = 0; trial < 5; trial++) {
      const root = tmp();
      const proc = spawn(process.execPath, ['--import', 'tsx', child, root, String(2 << 20)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new Promise<void>((resolve) => proc.stdout!.once('data', () => resolve()));
      await new Promise((r) => setTimeout(r, 20 + rng.int(400)));
      proc.kill('SIGKILL');
      await new Promise((r) => proc.once('exit', r));
      const m = new CheckpointManager(root);
      const latest = m.latest();
      expect(latest).not.toBeNull();
      const { files } = m.load(latest!.dir);
      const state = JSON.parse(text(files['state.json']!)) as { step: number };
      expect(state.step).toBe(latest!.step);
      expect(files['weights.bin']!.length).toBe(2 << 20);
      expect(files['weights.bin']!.every((b) => b === latest!.step % 251)).toBe(true);
    }
  });

  it('the checkpointing schema has working defaults and rejects bad values', () => {
    expect(checkpointingSchema.parse({})).toEqual({
      enabled: true,
      checkpoint_dir: 'checkpoints',
      save_period: 10,
      keep_top_k: 3,
      metric_name: null,
      higher_is_better: true,
    });
    expect(checkpointingSchema.safeParse({ save_period: 0 }).success).toBe(false);
    expect(checkpointingSchema.safeParse({ keep_top_k: 1.5 }).success).toBe(false);
  });
});
