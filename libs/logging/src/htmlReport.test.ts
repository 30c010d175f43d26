import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { headline, renderReport, writeReport } from './htmlReport';
import { escapeHtml, lineChart, niceTicks } from './lineChart';
import { explainMetric } from './metricGlossary';
import { groupSamples } from './sampleGroups';
import { JsonlSink } from './jsonlSink';

describe('HTML report', () => {
  it('lineChart maps the data range onto the plot area and skips NaN points', () => {
    const svg = lineChart('Loss', [
      {
        name: 'train/loss',
        points: [
          [0, 1],
          [1, NaN],
          [2, 0],
        ],
      },
    ]);
    const pts = /points="([^"]+)"/.exec(svg)![1]!.split(' ');
    // x: 0 → left pad 62, 2 → 460 − 14; y: one legend row puts the plot at 24 + 15 + 8 = 47,
    // and its 180 px end at 227
    expect(pts).toEqual(['62.0,47.0', '446.0,227.0']);
  });

  it('niceTicks: round steps of 1, 2 or 5 times a power of ten inside the range', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0.0703, 0.125)).toEqual([0.08, 0.1, 0.12]);
    expect(niceTicks(1, 1500, 6)).toEqual([500, 1000, 1500]);
    expect(niceTicks(-0.012, 0.008)).toEqual([-0.01, -0.005, 0, 0.005]);
  });

  it('lineChart: legend rows below the title, inside the chart; gridlines at the ticks; labelled axes', () => {
    const names = [
      'timing/generation_s',
      'timing/policy_training',
      'timing/rollout_and_reward',
      'timing/total_step_time',
      'timing/validation_s',
    ];
    const series = names.map((name, i) => ({
      name,
      points: [
        [0, i],
        [10, i + 1],
      ] as [number, number][],
    }));
    const svg = lineChart('Step time (s)', series, { yLabel: 'seconds' });
    const width = Number(/<svg width="(\d+)"/.exec(svg)![1]);
    const titleY = Number(/<text x="\d+" y="(\d+)" font-size="13"/.exec(svg)![1]);
    const legend = [
      ...svg.matchAll(/<text x="([\d.]+)" y="([\d.]+)" font-size="11">([^<]+)<\/text>/g),
    ]
      .map((m) => ({ x: Number(m[1]), y: Number(m[2]), text: m[3]! }))
      .filter((l) => names.includes(l.text));
    expect(legend.map((l) => l.text)).toEqual(names);
    const rows = [...new Set(legend.map((l) => l.y))];
    // five long names do not fit one 384 px row: they wrap, every row below the title
    expect(rows.length).toBeGreaterThan(1);
    for (const l of legend) {
      expect(l.y - 11).toBeGreaterThan(titleY);
      // 6.3 px per character at 11 px is generous for system-ui
      expect(l.x + l.text.length * 6.3).toBeLessThanOrEqual(width);
    }
    // the plot starts below the last legend row
    const plotTop = Number(/<line x1="62" y1="([\d.]+)" x2="62"/.exec(svg)![1]);
    expect(plotTop).toBeGreaterThan(Math.max(...rows));
    // y gridlines and labels at 0, 1, ..., 5; x at 0, 2, ..., 10; axis titles
    const yLabels = [...svg.matchAll(/text-anchor="end" fill="#555">([^<]+)</g)].map((m) => m[1]);
    expect(yLabels).toEqual(['0', '1', '2', '3', '4', '5']);
    const xLabels = [...svg.matchAll(/text-anchor="middle" fill="#555">([^<]+)</g)].map(
      (m) => m[1],
    );
    expect(xLabels).toEqual(['0', '2', '4', '6', '8', '10']);
    expect(svg.match(/stroke="#e6e6e6"/g)).toHaveLength(12);
    expect(svg).toMatch(/>step<\/text>/);
    expect(svg).toMatch(/transform="rotate\(-90 [^"]+\)">seconds<\/text>/);
  });

  it('headline: held-out before → after, and the worst point when it fell below the start', () => {
    const rows: Record<string, number>[] = [
      { step: 0, 'validation/accuracy': 0.297 },
      { step: 100, 'train/loss': 1 },
      { step: 250, 'validation/accuracy': 0.273 },
      { step: 1500, 'validation/accuracy': 0.418 },
    ];
    expect(headline(rows)).toEqual([
      'held-out accuracy 0.2970 (step 0) → 0.4180 (step 1500), +0.1210; worst 0.2730 at step 250, below the start',
    ]);
    expect(
      headline([
        { step: 0, 'validation/loss': 4.5 },
        { step: 9, 'validation/loss': 0.75 },
      ]),
    ).toEqual(['held-out loss 4.5000 (step 0) → 0.7500 (step 9), -3.7500']);
    const html = renderReport({ title: 't', rows });
    expect(html).toContain(
      '<p class="headline"><b>held-out accuracy 0.2970 (step 0) → 0.4180 (step 1500)',
    );
    expect(renderReport({ title: 't', rows: [{ step: 1, 'train/loss': 1 }] })).toContain(
      'No validation ran',
    );
  });

  it('samples: each prompt once, identical completions once with their count, validation prompts across steps', () => {
    const samples = [
      ...[1, 1, 1, 0].map((c, i) => ({
        step: 5,
        split: 'train',
        prompt: '39+2=',
        completion: c ? '45' : '41',
        answer: '41',
        reward: c ? 0 : 1,
        i,
      })),
      ...[0, 10].flatMap((step) => [
        {
          step,
          split: 'validation',
          prompt: '88-42=',
          completion: step ? '46' : '57',
          answer: '46',
          correct: step ? 1 : 0,
        },
      ]),
    ];
    const groups = groupSamples(samples);
    expect(groups).toEqual([
      {
        split: 'train',
        prompt: '39+2=',
        answer: '41',
        steps: [
          {
            step: 5,
            completions: [
              { text: '45', count: 3, correct: false },
              { text: '41', count: 1, correct: true },
            ],
          },
        ],
      },
      {
        split: 'validation',
        prompt: '88-42=',
        answer: '46',
        steps: [
          { step: 10, completions: [{ text: '46', count: 1, correct: true }] },
          { step: 0, completions: [{ text: '57', count: 1, correct: false }] },
        ],
      },
    ]);
    const html = renderReport({ title: 't', rows: [{ step: 5, 'train/loss': 1 }], samples });
    expect(html.match(/<code>39\+2=<\/code>/g)).toHaveLength(1);
    expect(html).toContain('<span class="bad">&#34;45&#34; ×3</span>');
    expect(html.match(/<code>88-42=<\/code>/g)).toHaveLength(1);
  });

  it('the last-step table says what each metric means, train/reward apart from train/reward/mean', () => {
    const html = renderReport({
      title: 't',
      rows: [{ step: 1, 'train/reward': 0.056, 'train/reward/mean': 0.043, 'train/custom': 1 }],
    });
    const meaning = (name: string) =>
      new RegExp(
        `<code>${name.replace(/\//g, '\\/')}</code></td><td>[^<]*</td><td>([^<]*)</td>`,
      ).exec(html)![1];
    expect(meaning('train/reward')).toBe(
      'GRPO: mean reward of every completion generated this step, across all dynamic-sampling rounds, kept or not',
    );
    expect(meaning('train/reward/mean')).toMatch(
      /last batch it scored .* differ from train\/reward$/,
    );
    expect(meaning('train/custom')).toBe('');
    expect(explainMetric('timing/generation_s')).toBe('seconds spent in this phase of the step');
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
    // a sample with no prompt is listed as it is
    expect(html).toContain('&#34;completion&#34;: &#34;42&#34;');
  });
});
