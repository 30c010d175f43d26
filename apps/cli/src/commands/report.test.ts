import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JsonlSink } from '@rxrl/logging';
import { runCli } from '../cli';
import { fakeIo as makeFakeIo } from '../testing/fakeIo';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-report-cmd-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const fakeIo = () => makeFakeIo(tmp);

describe('rxrl report', () => {
  it('writes report.html for a run directory, with a chart per logged panel', async () => {
    const run = path.join(tmp, 'run');
    const sink = new JsonlSink(path.join(run, 'metrics.jsonl'));
    for (let step = 1; step <= 3; step++) {
      sink.record({ step, metrics: { 'train/loss': 1 / step, 'validation/accuracy': step / 10 } });
    }
    const { io, out } = fakeIo();
    expect(await runCli(['report', 'run', '--title', 'demo run'], io)).toBe(0);
    expect(out).toEqual([`rxrl: wrote ${path.join(run, 'report.html')}`]);
    const html = fs.readFileSync(path.join(run, 'report.html'), 'utf8');
    expect(html).toContain('<title>demo run</title>');
    expect(html).toContain('aria-label="Loss"');
    expect(html).toContain('aria-label="Accuracy"');
  });

  it('exits 2 without a run directory, and 1 for a directory that is not a run', async () => {
    const none = fakeIo();
    expect(await runCli(['report'], none.io)).toBe(2);
    expect(none.err.join('\n')).toMatch(/expected exactly one run directory/);
    fs.mkdirSync(path.join(tmp, 'empty'));
    const empty = fakeIo();
    expect(await runCli(['report', 'empty'], empty.io)).toBe(1);
    expect(empty.err.join('\n')).toMatch(/no metrics.jsonl/);
  });
});
