import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { escapeHtml, lineChart, renderReport, writeReport } from './htmlReport';
import { JsonlSink } from './jsonlSink';

describe('HTML report', () => {
  it('lineChart maps the data range onto the plot area and skips NaN points', () => {
    const svg = lineChart(
      'Loss',
      [
        {
          name: 'train/loss',
          points: [
            [0, 1],
            [1, NaN],
            [2, 0],
          ],
        },
      ],
      420,
      220,
    );
    const pts = /points="([^"]+)"/.exec(svg)![1]!.split(' ');
    // x: 0 → left pad 52, 2 → 420 − 10; y: max 1 → top pad 24, min 0 → 220 − 28
    expect(pts).toEqual(['52.0,24.0', '410.0,192.0']);
  });

  it('renders one chart per panel present, escapes text and embeds config and samples', () => {
    const rows = [1, 2, 3].map((step) => ({
      step,
      'train/loss': 1 / step,
      'train/reward': step / 3,
      'train/lr': 1e-3,
    }));
    const html = renderReport({
      title: 'run <1>',
      rows,
      configYaml: 'grpo:\n  seed: 1',
      samples: [{ completion: '<b>4</b>' }],
    });
    expect(html).toContain('<title>run &#60;1&#62;</title>');
    expect(html.match(/<svg /g)!.length).toBe(3); // Loss, Reward, Learning rate
    expect(html).toContain('aria-label="Reward"');
    expect(html).not.toContain('aria-label="KL"');
    expect(html).toContain('&#60;b&#62;4&#60;/b&#62;');
    expect(html).toContain('grpo:\n  seed: 1');
    expect(html).not.toMatch(/<script|https?:\/\//);
    expect(escapeHtml(`a&"'`)).toBe('a&#38;&#34;&#39;');
  });

  it('charts dynamic sampling when the run logged it', () => {
    const rows = [1, 2].map((step) => ({
      step,
      'train/loss': 1,
      'train/dynamic_sampling_kept_fraction': 0.4,
      'train/dynamic_sampling_num_gen_batches': 3,
    }));
    const html = renderReport({ title: 'ds', rows });
    expect(html).toContain('aria-label="Dynamic sampling: fraction of groups kept"');
    expect(html).toContain('aria-label="Dynamic sampling: generation batches per step"');
    expect(html.match(/<svg /g)!.length).toBe(3);
  });

  it('writeReport builds report.html from a run directory and says when it is not one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rxrl-report-'));
    expect(() => writeReport(dir)).toThrow(/no metrics.jsonl/);
    const sink = new JsonlSink(join(dir, 'metrics.jsonl'));
    for (let s = 1; s <= 5; s++)
      sink.record({ step: s, metrics: { 'train/loss': 5 - s, 'train/grad_norm': 1 } });
    writeFileSync(join(dir, 'samples.jsonl'), '{"step":5,"completion":"42"}\n');
    const out = writeReport(dir, 'demo');
    const html = readFileSync(out, 'utf8');
    expect(out).toBe(join(dir, 'report.html'));
    expect(html).toContain('5 logged steps, last step 5');
    expect(html).toContain('aria-label="Gradient norm"');
    expect(html).toContain('&#34;completion&#34;: &#34;42&#34;');
  });
});
