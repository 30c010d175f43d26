import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readMetricsJsonl } from './jsonlSink';

/** Which metrics go on which chart: the first name present in the run is used per line. */
export const REPORT_PANELS: { title: string; patterns: RegExp[] }[] = [
  { title: 'Loss', patterns: [/^(train|validation)\/loss$/] },
  { title: 'Reward', patterns: [/^(train|validation)\/reward(_mean)?$/] },
  {
    title: 'Accuracy',
    patterns: [/^(train|validation)\/accuracy$/, /^validation\/preference_accuracy$/],
  },
  { title: 'KL', patterns: [/^(train|validation)\/(kl|kl_penalty)$/] },
  { title: 'Learning rate', patterns: [/^train\/lr$/] },
  { title: 'Gradient norm', patterns: [/^train\/grad_norm$/] },
  {
    title: 'Dynamic sampling: fraction of groups kept',
    patterns: [/^train\/dynamic_sampling_kept_fraction$/],
  },
  {
    title: 'Dynamic sampling: generation batches per step',
    patterns: [/^train\/dynamic_sampling_num_gen_batches$/],
  },
  { title: 'Throughput (tokens/s)', patterns: [/^performance\/tokens_per_sec$/] },
  { title: 'Step time (s)', patterns: [/^timing\//] },
];

const COLORS = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
];

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

interface Series {
  name: string;
  points: [number, number][];
}

/** An inline SVG line chart; non-finite points are skipped (a NaN step breaks no line). */
export function lineChart(title: string, series: Series[], width = 420, height = 220): string {
  const pad = { l: 52, r: 10, t: 24, b: 28 };
  const pts = series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y));
  if (pts.length === 0) return '';
  let [xmin, xmax] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
  let [ymin, ymax] = [Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))];
  if (xmax === xmin) [xmin, xmax] = [xmin - 1, xmax + 1];
  if (ymax === ymin)
    [ymin, ymax] = [ymin - Math.abs(ymin || 1) * 0.1, ymax + Math.abs(ymax || 1) * 0.1];
  const sx = (x: number) => pad.l + ((x - xmin) / (xmax - xmin)) * (width - pad.l - pad.r);
  const sy = (y: number) =>
    height - pad.b - ((y - ymin) / (ymax - ymin)) * (height - pad.t - pad.b);
  const fmt = (v: number) =>
    Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0)
      ? v.toExponential(2)
      : Number(v.toPrecision(4)).toString();
  const lines = series
    .map((s, i) => {
      const p = s.points
        .filter(([, y]) => Number.isFinite(y))
        .map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`);
      return `<polyline fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="1.5" points="${p.join(' ')}"><title>${escapeHtml(s.name)}</title></polyline>`;
    })
    .join('');
  const legend = series
    .map((s, i) => `<tspan fill="${COLORS[i % COLORS.length]}">■ ${escapeHtml(s.name)} </tspan>`)
    .join('');
  return `<svg width="${width}" height="${height}" role="img" aria-label="${escapeHtml(title)}">
<text x="${pad.l}" y="14" font-size="12" font-weight="bold">${escapeHtml(title)}</text>
<text x="${width - pad.r}" y="14" font-size="10" text-anchor="end">${legend}</text>
<line x1="${pad.l}" y1="${height - pad.b}" x2="${width - pad.r}" y2="${height - pad.b}" stroke="#999"/>
<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${height - pad.b}" stroke="#999"/>
<text x="${pad.l - 4}" y="${pad.t + 4}" font-size="10" text-anchor="end">${fmt(ymax)}</text>
<text x="${pad.l - 4}" y="${height - pad.b}" font-size="10" text-anchor="end">${fmt(ymin)}</text>
<text x="${pad.l}" y="${height - 8}" font-size="10">step ${fmt(xmin)}</text>
<text x="${width - pad.r}" y="${height - 8}" font-size="10" text-anchor="end">${fmt(xmax)}</text>
${lines}</svg>`;
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
    return lineChart(panel.title, series);
  }).filter((c) => c !== '');
  const last = input.rows.at(-1) ?? {};
  const summary = Object.entries(last)
    .filter(([k]) => k !== 'step')
    .sort(([a], [b]) => a.localeCompare(b))
    .map(
      ([k, v]) =>
        `<tr><td>${escapeHtml(k)}</td><td>${Number.isFinite(v) ? Number(v.toPrecision(6)) : String(v)}</td></tr>`,
    )
    .join('');
  const samples = (input.samples ?? [])
    .slice(-20)
    .map((s) => `<pre>${escapeHtml(JSON.stringify(s, null, 1))}</pre>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(input.title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}h1{font-size:20px}.grid{display:flex;flex-wrap:wrap;gap:12px}
table{border-collapse:collapse;font-size:13px}td{border-bottom:1px solid #eee;padding:2px 10px}pre{background:#f6f6f6;padding:8px;font-size:12px;white-space:pre-wrap}</style>
</head><body>
<h1>${escapeHtml(input.title)}</h1>
<p>${input.rows.length} logged steps, last step ${last['step'] ?? '–'}.</p>
<div class="grid">${charts.join('\n')}</div>
<h2>Last step</h2><table>${summary}</table>
${samples ? `<h2>Recent samples</h2>${samples}` : ''}
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
