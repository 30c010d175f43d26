import { mkdtempSync, readFileSync, readdirSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '@rxrl/core/base';
import { formatDuration, readEventFile, readMetricsJsonl } from '@rxrl/logging';
import { expectedDurationLine, runTraining } from './runner';
import { runnerOptionsSchema } from './runnerOptions';
import type { BatchSource, MoreBatches, StepResult, TrainingAlgorithm } from './trainingAlgorithm';

/** A deterministic algorithm: a "weight" that moves by a noisy amount per batch, with RNG state to checkpoint. */
class Toy implements TrainingAlgorithm<number[]> {
  weight = 0;
  rng = new Rng(7);
  validations: number[] = [];
  constructor(private readonly valScores: number[] = []) {}
  trainStep(batch: number[], step: number): StepResult {
    this.weight += batch.reduce((a, b) => a + b, 0) * 0.01 + this.rng.float();
    return {
      metrics: { 'train/loss': this.weight, 'train/step_seen': step },
      samples: [{ batch }],
    };
  }
  validate(step: number): StepResult {
    this.validations.push(step);
    const acc =
      this.valScores.length > 0 ? this.valScores[this.validations.length - 1]! : this.weight;
    return { metrics: { 'validation/accuracy': acc } };
  }
  saveState() {
    return { 'toy.json': JSON.stringify({ weight: this.weight, rng: this.rng.getState() }) };
  }
  loadState(files: Record<string, Uint8Array>) {
    const s = JSON.parse(new TextDecoder().decode(files['toy.json']));
    this.weight = s.weight;
    this.rng.setState(s.rng);
  }
}

/** 5 batches per epoch, order shuffled by epoch. */
const data: BatchSource<number[]> = {
  *batches(epoch, position) {
    const order = new Rng(100 + epoch).permutation(5);
    for (let i = position; i < 5; i++) yield [order[i]!, epoch];
  },
};

const tmp = () => mkdtempSync(path.join(tmpdir(), 'rxrl-runner-'));
const quiet = { progress: false as const, tensorboard: false, handleSignals: false };

describe('runTraining', () => {
  it('validates at 0 and every val_period, checkpoints every save_period and at the end, crosses epochs', async () => {
    const runDir = tmp();
    const algo = new Toy();
    const result = await runTraining({
      ...quiet,
      runDir,
      algorithm: algo,
      data,
      loop: { max_num_steps: 12, max_num_epochs: 3, val_period: 4, val_at_start: true },
      checkpointing: { save_period: 5, keep_top_k: null },
    });
    expect(result).toMatchObject({ step: 12, reason: 'max_num_steps', resumedFrom: null });
    expect(algo.validations).toEqual([0, 4, 8, 12]);
    const rows = readMetricsJsonl(path.join(runDir, 'metrics.jsonl'));
    expect(rows.map((r) => r['step'])).toEqual([0, ...Array.from({ length: 12 }, (_, i) => i + 1)]);
    expect(rows.filter((r) => 'validation/accuracy' in r).map((r) => r['step'])).toEqual([
      0, 4, 8, 12,
    ]);
    expect(readdirSync(path.join(runDir, 'checkpoints')).sort()).toEqual([
      'step_00000005',
      'step_00000010',
      'step_00000012',
    ]);
    expect(
      readFileSync(path.join(runDir, 'samples.jsonl'), 'utf8').trim().split('\n'),
    ).toHaveLength(12);
    expect(existsSync(path.join(runDir, 'report.html'))).toBe(true);
  });

  it('stops at max_num_epochs when the data runs out first', async () => {
    const result = await runTraining({
      ...quiet,
      runDir: tmp(),
      algorithm: new Toy(),
      data,
      loop: { max_num_steps: 100, max_num_epochs: 2 },
    });
    expect(result).toMatchObject({ step: 10, reason: 'max_num_epochs' });
  });

  it('stops early after `patience` validations without improvement', async () => {
    const algo = new Toy([0.1, 0.5, 0.4, 0.5, 0.45, 0.9]);
    const result = await runTraining({
      ...quiet,
      runDir: tmp(),
      algorithm: algo,
      data,
      loop: {
        max_num_steps: 20,
        max_num_epochs: 10,
        val_period: 2,
        early_stopping: { metric: 'validation/accuracy', patience: 3 },
      },
    });
    // best 0.5 at step 4; 0.4 (6), 0.5 (8, not better), 0.45 (10): three without improvement
    expect(result).toMatchObject({ step: 10, reason: 'early_stopping' });
    expect(algo.validations).toEqual([2, 4, 6, 8, 10]);
  });

  it('resuming gives the same metrics as an uninterrupted run', async () => {
    const loop = { max_num_steps: 9, max_num_epochs: 3, val_period: 3 };
    const full = tmp();
    await runTraining({
      ...quiet,
      runDir: full,
      algorithm: new Toy(),
      data,
      loop,
      checkpointing: { save_period: 4 },
    });
    const cut = tmp();
    // first run stops at 6 (checkpoint at 4 and 6), then a fresh process resumes from 6 to 9
    await runTraining({
      ...quiet,
      runDir: cut,
      algorithm: new Toy(),
      data,
      loop: { ...loop, max_num_steps: 6 },
      checkpointing: { save_period: 4 },
    });
    const resumed = await runTraining({
      ...quiet,
      runDir: cut,
      algorithm: new Toy(),
      data,
      loop,
      checkpointing: { save_period: 4 },
      resume: true,
    });
    expect(resumed.resumedFrom).toBe(6);
    const strip = (rows: Record<string, number>[]) =>
      rows.map((r) =>
        Object.fromEntries(Object.entries(r).filter(([k]) => !k.startsWith('timing/'))),
      );
    const a = strip(readMetricsJsonl(path.join(full, 'metrics.jsonl')));
    const b = strip(readMetricsJsonl(path.join(cut, 'metrics.jsonl')));
    expect(b.map((r) => r['step'])).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(b).toEqual(a);
  });

  it("a step's `more` pulls the epoch's next batches, which advance the resumable cursor", async () => {
    /** Pulls one extra batch per step and records what each step saw. */
    class Greedy implements TrainingAlgorithm<number[]> {
      seen: number[][] = [];
      toy = new Toy();
      async trainStep(batch: number[], step: number, more: MoreBatches<number[]>) {
        const extra = await more();
        this.seen.push([batch[0]!, extra ? extra[0]! : -1, batch[1]!]);
        return this.toy.trainStep(extra ? [...batch, ...extra] : batch, step);
      }
      saveState = () => this.toy.saveState();
      loadState = (files: Record<string, Uint8Array>) => this.toy.loadState(files);
    }
    const order = (epoch: number) => Array.from(new Rng(100 + epoch).permutation(5));
    const full = new Greedy();
    const r = await runTraining({
      ...quiet,
      runDir: tmp(),
      algorithm: full,
      data,
      loop: { max_num_steps: 100, max_num_epochs: 2 },
    });
    // 5 batches per epoch: steps take (0,1), (2,3), (4, none) and the epoch ends
    const [a, b] = [order(0), order(1)];
    expect(full.seen).toEqual([
      [a[0], a[1], 0],
      [a[2], a[3], 0],
      [a[4], -1, 0],
      [b[0], b[1], 1],
      [b[2], b[3], 1],
      [b[4], -1, 1],
    ]);
    expect(r).toMatchObject({ step: 6, reason: 'max_num_epochs' });

    // stop after step 1 (cursor at batch 2), resume: step 2 starts at batch 2, not 1
    const cut = tmp();
    await runTraining({
      ...quiet,
      runDir: cut,
      algorithm: new Greedy(),
      data,
      loop: { max_num_steps: 1, max_num_epochs: 2 },
    });
    const resumed = new Greedy();
    await runTraining({
      ...quiet,
      runDir: cut,
      algorithm: resumed,
      data,
      loop: { max_num_steps: 3, max_num_epochs: 2 },
      resume: true,
    });
    expect(resumed.seen).toEqual(full.seen.slice(1, 3));
  });

  it('a resumed run starts its TensorBoard file with a SessionLog START at the first step it reruns', async () => {
    const runDir = tmp();
    const loop = { max_num_epochs: 3 };
    const base = { ...quiet, tensorboard: true, runDir, data, checkpointing: { save_period: 2 } };
    await runTraining({ ...base, algorithm: new Toy(), loop: { ...loop, max_num_steps: 2 } });
    await runTraining({ ...base, algorithm: new Toy(), loop: { ...loop, max_num_steps: 4 } });
    const files = readdirSync(path.join(runDir, 'tensorboard')).sort();
    expect(files).toHaveLength(2);
    const events = files.map((f) => readEventFile(path.join(runDir, 'tensorboard', f)));
    const starts = events.map((ev) => ev.filter((e) => e.sessionStatus === 1).map((e) => e.step));
    // TensorBoard drops earlier files' events from step 3 on: nothing the resumed run rewrites shows twice
    expect(starts.flat()).toEqual([3]);
    expect(
      events
        .flat()
        .filter((e) => e.scalars.some((v) => v.tag === 'train/loss'))
        .map((e) => e.step)
        .sort(),
    ).toEqual([1, 2, 3, 4]);
  });

  it('drops metric rows written after the checkpoint it resumes from', async () => {
    const runDir = tmp();
    const loop = { max_num_steps: 7, max_num_epochs: 2 };
    // steps 1-7 run; checkpoints at 5 and at the end (7); remove the final one to simulate a crash after step 7
    await runTraining({
      ...quiet,
      runDir,
      algorithm: new Toy(),
      data,
      loop,
      checkpointing: { save_period: 5 },
    });
    const { rmSync } = await import('node:fs');
    rmSync(path.join(runDir, 'checkpoints', 'step_00000007'), { recursive: true });
    const r = await runTraining({
      ...quiet,
      runDir,
      algorithm: new Toy(),
      data,
      loop,
      checkpointing: { save_period: 5 },
    });
    expect(r.resumedFrom).toBe(5);
    expect(readMetricsJsonl(path.join(runDir, 'metrics.jsonl')).map((x) => x['step'])).toEqual([
      1, 2, 3, 4, 5, 6, 7,
    ]);
  });

  it('resuming a finished run logs no step twice (its last validation is not repeated)', async () => {
    const runDir = tmp();
    // val_at_end on a last step that is not a val_period step: validated once after step 7
    const loop = { max_num_steps: 7, max_num_epochs: 2, val_period: 3, val_at_end: true };
    const first = new Toy();
    await runTraining({ ...quiet, runDir, algorithm: first, data, loop });
    expect(first.validations).toEqual([3, 6, 7]);
    const again = new Toy();
    const r = await runTraining({ ...quiet, runDir, algorithm: again, data, loop });
    expect(r.resumedFrom).toBe(7);
    expect(again.validations).toEqual([]);
    const steps = readMetricsJsonl(path.join(runDir, 'metrics.jsonl')).map((x) => x['step']);
    expect(steps).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('says how long the run should take once the first 10 steps are timed', async () => {
    const lines: string[] = [];
    await runTraining({
      ...quiet,
      runDir: tmp(),
      algorithm: new Toy(),
      data,
      loop: { max_num_steps: 12, max_num_epochs: 3, val_period: 4, val_at_start: true },
      checkpointing: { enabled: false },
      log: (l) => lines.push(l),
    });
    const expected = lines.filter((l) => l.startsWith('rxrl: expected duration'));
    expect(expected).toHaveLength(1);
    expect(expected[0]).toMatch(
      /^rxrl: expected duration ≈ \d+s for 12 steps \(\d+ ms a step over the first 10, 1 validation to come at \d+s each\)$/,
    );
  });

  it('expectedDurationLine: remaining steps at the mean step time plus the validations still due', () => {
    const loop = runnerOptionsSchema.parse({
      max_num_steps: 1500,
      val_period: 250,
      val_at_start: true,
      val_at_end: true,
    });
    // 10 steps in 2 s and one validation (step 0) of 3 s: 1490 x 0.2 s + 6 x 3 s more
    const line = expectedDurationLine(
      { trainSeconds: 2, steps: 10, validationSeconds: 3, validations: 1 },
      10,
      loop,
    );
    expect(line).toBe(
      `rxrl: expected duration ≈ ${formatDuration(2 + 3 + 1490 * 0.2 + 6 * 3)} for 1500 steps (200 ms a step over the first 10, 6 validations to come at 3s each)`,
    );
    expect(formatDuration(2 + 3 + 1490 * 0.2 + 6 * 3)).toBe('5m21s');
  });

  it.each([
    ['resume: false over a checkpoint', { resume: false }, { save_period: 2 }],
    ["resume: 'auto' with no checkpoint", { resume: 'auto' }, { enabled: false }],
  ] as const)(
    "a fresh start (%s) replaces the earlier run's metrics, samples and event files",
    async (_, { resume }, checkpointing) => {
      const runDir = tmp();
      const loop = { max_num_epochs: 3, val_at_start: true };
      await runTraining({
        ...quiet,
        tensorboard: true,
        runDir,
        algorithm: new Toy(),
        data,
        loop: { ...loop, max_num_steps: 5 },
        checkpointing,
      });
      // an event file of an older run, named as TensorBoardSink names them
      const events = path.join(runDir, 'tensorboard');
      writeFileSync(path.join(events, 'events.out.tfevents.1000000000.oldhost'), '');
      const lines: string[] = [];
      const second = await runTraining({
        ...quiet,
        tensorboard: true,
        runDir,
        algorithm: new Toy(),
        data,
        loop: { ...loop, max_num_steps: 3 },
        checkpointing,
        resume,
        log: (l) => lines.push(l),
      });
      expect(second.resumedFrom).toBeNull();
      expect(readMetricsJsonl(path.join(runDir, 'metrics.jsonl')).map((r) => r['step'])).toEqual([
        0, 1, 2, 3,
      ]);
      const samples = readFileSync(path.join(runDir, 'samples.jsonl'), 'utf8').trim().split('\n');
      expect(samples.map((l) => (JSON.parse(l) as { step: number }).step)).toEqual([1, 2, 3]);
      const left = readdirSync(events);
      expect(left).toHaveLength(1);
      expect(left[0]).not.toContain('oldhost');
      expect(lines[0]).toMatch(
        /^rxrl: starting fresh in .*: removed the earlier run's metrics\.jsonl, samples\.jsonl, tensorboard\/ \(\d event files?\)$/,
      );
      if (resume === false) {
        // the earlier run's checkpoints (steps 2, 4, 5) are kept aside, out of resume's way
        expect(lines[1]).toMatch(
          /^rxrl: starting fresh: moved the earlier run's checkpoints to .*checkpoints\.earlier-1$/,
        );
        expect(readdirSync(path.join(runDir, 'checkpoints.earlier-1'))).toContain('step_00000005');
        expect(readdirSync(path.join(runDir, 'checkpoints')).sort()).toEqual([
          'step_00000002',
          'step_00000003',
        ]);
        const again = await runTraining({
          ...quiet,
          runDir,
          algorithm: new Toy(),
          data,
          loop: { ...loop, max_num_steps: 4 },
          checkpointing,
        });
        expect(again.resumedFrom).toBe(3);
      }
    },
  );

  it('--resume without a checkpoint is a usage error', async () => {
    await expect(
      runTraining({
        ...quiet,
        runDir: tmp(),
        algorithm: new Toy(),
        data,
        loop: { max_num_steps: 1 },
        resume: true,
      }),
    ).rejects.toThrow(/--resume: no checkpoint to resume from in .*checkpoints/);
  });
});
