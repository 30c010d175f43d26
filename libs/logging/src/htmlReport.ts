import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readMetricsJsonl } from './jsonlSink';
import { escapeHtml, lineChart } from './lineChart';
import { explainMetric } from './metricGlossary';
import { groupSamples } from './sampleGroups';

export { escapeHtml, lineChart } from './lineChart';

/** Which metrics go on which chart (every name matching a pattern), and the y axis label. */
export const REPORT_PANELS: { title: string; yLabel: string; patterns: RegExp[] }[] = [
  { title: 'Loss', yLabel: 'loss', patterns: [/^(train|validation)\/loss$/] },
  {
    title: 'Reward',
    yLabel: 'mean reward',
    patterns: [/^(train|validation)\/reward(_mean|\/mean)?$/],
  },
  {
    title: 'Accuracy',
    yLabel: 'fraction correct',
    patterns: [/^(train|validation)\/accuracy$/, /^validation\/preference_accuracy$/],
  },
  { title: 'KL', yLabel: 'KL (nats)', patterns: [/^(train|validation)\/(kl|kl_penalty)$/] },
  { title: 'Learning rate', yLabel: 'learning rate', patterns: [/^train\/lr$/] },
  { title: 'Gradient norm', yLabel: 'global L2 norm', patterns: [/^train\/grad_norm$/] },
  {
    title: 'Dynamic sampling: fraction of groups kept',
    yLabel: 'fraction kept',
    patterns: [/^train\/dynamic_sampling_kept_fraction$/],
  },
  {
    title: 'Dynamic sampling: generation batches per step',
    yLabel: 'batches',
    patterns: [/^train\/dynamic_sampling_num_gen_batches$/],
  },
  {
    title: 'Throughput (tokens/s)',
    yLabel: 'tokens / s',
    patterns: [/^performance\/tokens_per_sec$/],
  },
  { title: 'Step time (s)', yLabel: 'seconds', patterns: [/^timing\//] },
];

/** Held-out metrics the headline reports, in order of preference, and whether higher is better. */
const HEADLINE: [key: string, label: string, higherIsBetter: boolean][] = [
  ['validation/accuracy', 'held-out accuracy', true],
  ['validation/loss', 'held-out loss', false],
  ['validation/reward_margin', 'held-out reward margin', true],
];

// accuracies and losses read best at a fixed four decimals; large values at four digits
const num = (v: number) => (Math.abs(v) < 100 ? v.toFixed(4) : Number(v.toPrecision(4)).toString());

/**
 * `held-out accuracy 0.297 (step 0) → 0.418 (step 1500), +0.121` for the run's first
 * and last validations, with the worst point when it fell below the start in between.
 */
export function headline(rows: Record<string, number>[]): string[] {
  const out: string[] = [];
  for (const [key, label, higher] of HEADLINE) {
    const seen = rows.filter((r) => Number.isFinite(r[key]));
    if (seen.length === 0) continue;
    const first = seen[0]!;
    const last = seen.at(-1)!;
    const d = last[key]! - first[key]!;
    let line = `${label} ${num(first[key]!)} (step ${first['step']}) → ${num(last[key]!)} (step ${last['step']}), ${d >= 0 ? '+' : ''}${num(d)}`;
    const worst = seen.reduce((w, r) => ((higher ? r[key]! < w[key]! : r[key]! > w[key]!) ? r : w));
    const below = higher ? worst[key]! < first[key]! : worst[key]! > first[key]!;
    if (below && worst !== last)
      line += `; worst ${num(worst[key]!)} at step ${worst['step']}, ${higher ? 'below' : 'above'} the start`;
    out.push(line);
  }
  return out;
}

export interface ReportInput {
  title: string;
  rows: Record<string, number>[];
  configYaml?: string;
  samples?: Record<string, unknown>[];
}

/** A self-contained HTML page (no scripts, no external assets) summarising a run. */
export function renderReport(input: ReportInput): string {
  const names = new Set(input.rows.flatMap((r) => Object.keys(r)).filter((k) => k !== 'step'));
  const charts = REPORT_PANELS.map((panel) => {
    const matched = [...names].filter((n) => panel.patterns.some((p) => p.test(n))).sort();
    const series = matched.map((name) => ({
      name,
      points: input.rows
        .filter((r) => r[name] !== undefined)
        .map((r) => [r['step']!, r[name]!] as [number, number]),
    }));
    return lineChart(panel.title, series, { yLabel: panel.yLabel });
  }).filter((c) => c !== '');
  const last = input.rows.at(-1) ?? {};
  const summary = Object.entries(last)
    .filter(([k]) => k !== 'step')
    .sort(([a], [b]) => a.localeCompare(b))
    .map(
      ([k, v]) =>
        `<tr><td><code>${escapeHtml(k)}</code></td><td>${Number.isFinite(v) ? Number(v.toPrecision(6)) : String(v)}</td><td>${escapeHtml(explainMetric(k) ?? '')}</td></tr>`,
    )
    .join('');
  const heads = headline(input.rows);
  const groups = groupSamples(input.samples ?? []);
  const grouped = groups
    .map((g) => {
      const byStep = g.steps
        .map(({ step, completions }) => {
          const shown = completions
            .map(
              (c) =>
                `<span class="${c.correct === true ? 'ok' : c.correct === false ? 'bad' : ''}">${escapeHtml(JSON.stringify(c.text))}${c.count > 1 ? ` ×${c.count}` : ''}</span>`,
            )
            .join(' ');
          return `<div><span class="step">step ${step}:</span> ${shown}</div>`;
        })
        .join('');
      return `<tr><td>${escapeHtml(g.split)}</td><td><code>${escapeHtml(g.prompt)}</code></td><td>${escapeHtml(g.answer ?? '')}</td><td>${byStep}</td></tr>`;
    })
    .join('');
  // samples with no prompt text (other algorithms' shapes) are listed as they are, once each
  const raw = [
    ...new Set(
      (input.samples ?? [])
        .filter((s) => typeof s['prompt'] !== 'string')
        .slice(-20)
        .map((s) => JSON.stringify(s, null, 1)),
    ),
  ]
    .map((t) => `<pre>${escapeHtml(t)}</pre>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(input.title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1500px}h1{font-size:20px}.grid{display:flex;flex-wrap:wrap;gap:16px}
.headline{font-size:18px;margin:6px 0}.headline b{font-variant-numeric:tabular-nums}
table{border-collapse:collapse;font-size:13px}td,th{border-bottom:1px solid #eee;padding:3px 10px;text-align:left;vertical-align:top}
pre{background:#f6f6f6;padding:8px;font-size:12px;white-space:pre-wrap}.step{color:#777;font-size:12px}.ok{color:#1a7f37}.bad{color:#b3261e}</style>
</head><body>
<h1>${escapeHtml(input.title)}</h1>
${heads.length > 0 ? heads.map((h) => `<p class="headline"><b>${escapeHtml(h)}</b></p>`).join('\n') : '<p class="headline">No validation ran: no held-out figure.</p>'}
<p>${input.rows.length} logged steps, last step ${last['step'] ?? '–'}.</p>
<div class="grid">${charts.join('\n')}</div>
<h2>Last step</h2><table><tr><th>metric</th><th>value</th><th>meaning</th></tr>${summary}</table>
${grouped ? `<h2>Samples of the latest steps, by prompt</h2><p>Each prompt once, with what the policy answered at each of the latest steps that logged it; identical completions once, with their count; <span class="ok">green</span> correct, <span class="bad">red</span> wrong.</p><table><tr><th>split</th><th>prompt</th><th>answer</th><th>completions</th></tr>${grouped}</table>` : ''}
${raw ? `<h2>Recent samples</h2>${raw}` : ''}
${input.configYaml ? `<h2>Resolved config</h2><pre>${escapeHtml(input.configYaml)}</pre>` : ''}
</body></html>
`;
}

/**
 * Build `report.html` from a run directory's `metrics.jsonl`, `config.yaml`
 * and `samples.jsonl` (the last two optional). Returns the report's path.
 */
export function writeReport(runDir: string, title = `rxrl run ${runDir}`): string {
  const metricsPath = join(runDir, 'metrics.jsonl');
  if (!existsSync(metricsPath))
    throw new Error(`${runDir}: no metrics.jsonl — is this an rxrl run directory?`);
  const configPath = join(runDir, 'config.yaml');
  const samplesPath = join(runDir, 'samples.jsonl');
  const samples = existsSync(samplesPath)
    ? readFileSync(samplesPath, 'utf8')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as Record<string, unknown>)
    : [];
  const html = renderReport({
    title,
    rows: readMetricsJsonl(metricsPath),
    configYaml: existsSync(configPath) ? readFileSync(configPath, 'utf8') : undefined,
    samples,
  });
  const out = join(runDir, 'report.html');
  writeFileSync(out, html);
  return out;
}
