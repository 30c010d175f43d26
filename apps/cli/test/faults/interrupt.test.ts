// Interrupted runs of `rxrl sft`: SIGTERM/SIGINT stop after the current step with a
// checkpoint and exit 128 + the signal's number (143 / 130, as every training command does); SIGKILL at random points (checkpoint every step) leaves a loadable
// checkpoint; an interrupted-and-resumed run logs the same metrics as an uninterrupted one.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, metricsRows, root, tinySft } from './tinySft';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-interrupt-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const STEPS = 150;
const args = (runDir: string, extra: string[] = []) => [
  'sft',
  '--config',
  'configs/sft_arithmetic.yaml',
  ...tinySft(STEPS),
  'checkpointing.save_period=1000',
  ...extra,
  '--run-dir',
  runDir,
  '--backend',
  'wasm',
];

/** Checkpoints reported on stdout so far (metrics.jsonl is flushed at the end, stdout is not). */
const saved = (out: string) => (out.match(/rxrl: checkpoint checkpoints\/step_\d+/g) ?? []).length;

/** Spawn `rxrl`, call `act(pid)` once `ready(output so far)` holds (polled), resolve with the exit code/signal and output. */
function spawnRxrl(argv: string[], ready: (out: string) => boolean, act: (pid: number) => void) {
  const child = spawn(process.execPath, ['apps/cli/bin/rxrl.js', ...argv], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const timer = setInterval(() => {
    if (ready(out)) {
      clearInterval(timer);
      act(child.pid!);
    }
  }, 20);
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }>(
    (resolve) => {
      child.on('exit', (code, signal) => {
        clearInterval(timer);
        resolve({ code, signal, out });
      });
    },
  );
}

const checkpoints = (runDir: string) =>
  fs.existsSync(path.join(runDir, 'checkpoints'))
    ? fs
        .readdirSync(path.join(runDir, 'checkpoints'))
        .filter((d) => /^step_\d+$/.test(d))
        .sort()
    : [];

describe('interrupted rxrl sft', () => {
  // the reference: the same recipe, never interrupted
  const reference = (async () => {
    const dir = path.join(tmp, 'reference');
    const r = await cli(args(dir));
    return { r, rows: metricsRows(dir) };
  })();

  // SIGINT takes the same path as SIGTERM: it runs with the slow tests
  const signals = process.env['RXRL_SLOW_TESTS']
    ? (['SIGTERM', 'SIGINT'] as const)
    : (['SIGTERM'] as const);
  for (const signal of signals) {
    it(`${signal} stops after the current step with a checkpoint; resuming gives the uninterrupted run's metrics`, async () => {
      const dir = path.join(tmp, signal);
      const first = await spawnRxrl(
        args(dir, ['checkpointing.save_period=5']),
        (out) => saved(out) >= 1,
        (pid) => process.kill(pid, signal),
      );
      // 128 + the signal's number, as a shell reports a command the signal ended
      expect(first.code).toBe(signal === 'SIGTERM' ? 143 : 130);
      expect(first.out).toContain(`rxrl: ${signal} received: finishing step`);
      const k = metricsRows(dir).at(-1)!['step']!;
      expect(k).toBeGreaterThanOrEqual(5);
      expect(k).toBeLessThan(STEPS);
      expect(first.out).toContain(`rxrl: stopped after step ${k} (signal)`);
      expect(checkpoints(dir)).toEqual([`step_${String(k).padStart(8, '0')}`]);

      // the in-process reference must be finished first: two runs in one process would share
      // TF.js's engine, and a second backend initialisation supersedes a pending first one
      const ref = await reference;
      const second = await cli(args(dir, ['checkpointing.save_period=5']));
      expect(second.code).toBe(0);
      expect(second.out).toContain(`(step ${k}, epoch `);
      expect(ref.r.code).toBe(0);
      const got = metricsRows(dir);
      expect(got.map((m) => m['step'])).toEqual(ref.rows.map((m) => m['step']));
      got.forEach((m, i) => {
        for (const key of Object.keys(ref.rows[i]!)) {
          if (key.startsWith('timing/') || key.startsWith('performance/')) continue;
          expect(
            Math.abs(m[key]! - ref.rows[i]![key]!),
            `${key} at step ${m['step']}`,
          ).toBeLessThanOrEqual(1e-6);
        }
      });
    });
  }

  it.skipIf(!process.env['RXRL_SLOW_TESTS'])(
    'SIGKILL at random points while checkpointing every step leaves a loadable checkpoint the run resumes from',
    async () => {
      // kill after 20-80% of the steps (never past the end), plus up to 40 ms into the next step or write
      const delays = [0.2, 0.45, 0.7].map((f) => f + Math.random() * 0.1);
      const results = await Promise.all(
        delays.map(async (f, i) => {
          const dir = path.join(tmp, `kill-${i}`);
          // kill after a random share of the steps, i.e. at a random point of some step or checkpoint write
          const at = Math.max(2, Math.floor(f * STEPS));
          const killed = await spawnRxrl(
            args(dir, ['checkpointing.save_period=1', 'checkpointing.keep_top_k=2']),
            (out) => saved(out) >= at,
            (pid) => setTimeout(() => process.kill(pid, 'SIGKILL'), Math.random() * 40),
          );
          return { dir, killed };
        }),
      );
      for (const { dir, killed } of results) {
        expect(killed.signal).toBe('SIGKILL');
        const before = checkpoints(dir);
        expect(before.length).toBeGreaterThan(0);
        const r = await cli(
          args(dir, ['checkpointing.save_period=1', 'checkpointing.keep_top_k=2']),
        );
        expect(r.code).toBe(0);
        expect(r.out).toMatch(/rxrl: resumed from .*step_\d{8} \(step \d+, epoch \d+, batch \d+\)/);
        expect(
          metricsRows(dir)
            .filter((m) => m['train/loss'] !== undefined)
            .map((m) => m['step']),
        ).toEqual(Array.from({ length: STEPS }, (_, j) => j + 1));
      }
    },
  );
});
