import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JsonlSink, readMetricsJsonl } from './jsonlSink';
import { checkMetricNames, MultiSink } from './metricSink';
import { formatDuration, ProgressSink } from './progressSink';
import { TensorBoardSink } from './tensorboardSink';
import { readEventFile } from './tensorboard/eventReader';
import { StepTimer } from './timer';

function fakeStream(isTTY: boolean) {
  const out: string[] = [];
  return { out, stream: { isTTY, columns: 200, write: (s: string) => (out.push(s), true) } };
}

describe('sinks', () => {
  it('JsonlSink writes one line per step and keeps NaN and Infinity', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'rxrl-log-')), 'metrics.jsonl');
    const sink = new JsonlSink(path);
    sink.record({ step: 1, metrics: { 'train/loss': 0.5, 'train/kl': NaN } });
    sink.record({ step: 2, metrics: { 'train/loss': Infinity } });
    expect(readFileSync(path, 'utf8')).toBe(
      '{"step":1,"train/loss":0.5,"train/kl":"NaN"}\n{"step":2,"train/loss":"Infinity"}\n',
    );
    const rows = readMetricsJsonl(path);
    expect(rows[0]!['train/kl']).toBeNaN();
    expect(rows[1]!['train/loss']).toBe(Infinity);
  });

  it('MultiSink rejects a metric without a known prefix and fans out to every sink', () => {
    expect(() => checkMetricNames({ loss: 1 })).toThrow(
      "metric 'loss' must start with one of train/, validation/, timing/, performance/",
    );
    const dir = mkdtempSync(join(tmpdir(), 'rxrl-log-'));
    const tb = new TensorBoardSink(dir);
    const jsonl = new JsonlSink(join(dir, 'metrics.jsonl'));
    const multi = new MultiSink([tb, jsonl]);
    multi.record({
      step: 3,
      metrics: { 'train/loss': 0.25 },
      histograms: { 'train/reward': [0, 1, 1] },
    });
    multi.close();
    const events = readEventFile(tb.path);
    expect(events[1]!.scalars).toEqual([{ tag: 'train/loss', value: 0.25 }]);
    expect(events[1]!.step).toBe(3);
    expect(events[2]!.histograms[0]!.num).toBe(3);
    expect(readMetricsJsonl(jsonl.path)).toEqual([{ step: 3, 'train/loss': 0.25 }]);
  });

  it('ProgressSink prints plain lines off a terminal and a redrawn bar on one, with ETA', () => {
    let t = 0;
    const plain = fakeStream(false);
    const p = new ProgressSink({ totalSteps: 4, stream: plain.stream, now: () => t });
    t = 10;
    p.record({
      step: 1,
      metrics: { 'train/loss': 1.23456, 'train/reward': 0.5, 'performance/tokens_per_sec': 812.4 },
    });
    expect(plain.out).toEqual([
      'step 1/4 | loss 1.2346 | reward 0.500 | tok/s 812 | 10s elapsed, ETA 30s\n',
    ]);

    const tty = fakeStream(true);
    t = 0;
    const q = new ProgressSink({ totalSteps: 4, stream: tty.stream, now: () => t });
    t = 20;
    q.record({ step: 2, metrics: { 'train/loss': 0.5 } });
    expect(tty.out[0]).toBe(
      '\r[##########..........] step 2/4 | loss 0.5000 | 20s elapsed, ETA 20s',
    );
    q.record({ step: 4, metrics: {} });
    expect(tty.out.at(-1)).toBe('\n');
  });

  it('ProgressSink off a terminal: about 200 lines per run, plus a line per validation and the last step', () => {
    const plain = fakeStream(false);
    const p = new ProgressSink({ totalSteps: 2500, stream: plain.stream, now: () => 0 });
    for (let step = 1; step <= 2500; step++) {
      const validation = step % 250 === 0 || step === 125;
      p.record({
        step,
        metrics: { 'train/loss': 1, ...(validation ? { 'validation/accuracy': step / 5000 } : {}) },
      });
    }
    const stepLines = plain.out.filter((l) => l.startsWith('step '));
    const valLines = plain.out.filter((l) => l.startsWith('validation at step '));
    expect(stepLines.length + valLines.length).toBe(plain.out.length);
    // every 13th step (2500 / 200 rounded up) and the last one
    const steps = stepLines.map((l) => Number(/^step (\d+)\//.exec(l)![1]));
    expect(steps).toEqual([...Array.from({ length: 192 }, (_, i) => 13 * (i + 1)), 2500]);
    expect(valLines).toHaveLength(11);
    expect(valLines[0]).toBe('validation at step 125/2500: accuracy 0.0250\n');
    expect(valLines[1]).toBe(
      'validation at step 250/2500: accuracy 0.0500 (start 0.0250, +0.0250)\n',
    );
  });

  it('ProgressSink on a terminal: validation lines stay above the bar, a dip shows against the start', () => {
    const tty = fakeStream(true);
    const p = new ProgressSink({ totalSteps: 4, stream: tty.stream, now: () => 0 });
    p.record({ step: 0, metrics: { 'validation/accuracy': 0.3, 'validation/num_samples': 64 } });
    p.record({ step: 1, metrics: { 'train/loss': 0.5 } });
    p.clearLine();
    p.record({
      step: 2,
      metrics: { 'train/loss': 0.4, 'validation/accuracy': 0.25, 'validation/num_samples': 64 },
    });
    const screen = tty.out.join('');
    // each validation line ends with a newline, so the bar's \r never returns over it
    expect(screen).toContain('validation at step 0/4: accuracy 0.3000, num_samples 64\n');
    // a count prints as an integer, and one that has not moved without a comparison
    expect(screen).toContain(
      'validation at step 2/4: accuracy 0.2500 (start 0.3000, -0.0500), num_samples 64\n',
    );
    const bar = '[#####...............] step 1/4 | loss 0.5000 | 0s elapsed, ETA 0s';
    // clearLine blanks the bar it drew and returns to column 0 for the next line
    expect(tty.out).toContain(`\r${' '.repeat(bar.length)}\r`);
    expect(screen.indexOf('validation at step 2/4')).toBeGreaterThan(screen.indexOf(bar));
    expect(tty.out.at(-1)).toMatch(/^\r\[#{10}\.{10}\] step 2\/4/);
  });

  it('formatDuration and StepTimer', async () => {
    expect([
      formatDuration(5),
      formatDuration(185),
      formatDuration(3725),
      formatDuration(NaN),
    ]).toEqual(['5s', '3m05s', '1h02m', '?']);
    const timer = new StepTimer();
    const v = await timer.time('generation', async () => 7);
    timer.add('generation', 1);
    expect(v).toBe(7);
    const m = timer.metrics();
    expect(m['timing/generation']).toBeGreaterThanOrEqual(1);
    expect(m['timing/generation']).toBeLessThan(2);
    expect(timer.metrics()).toEqual({});
  });
});
