import { REPORT_PANELS } from './htmlReport';
import { escapeHtml, lineChart, type Series } from './lineChart';
import { meanConfidenceInterval, welchTTest, type WelchResult } from './stats/welchTTest';

/** One run as `rxrl compare` reads it: its directory, resolved config and metrics.jsonl rows. */
export interface ComparedRun {
  dir: string;
  config: Record<string, unknown>;
  rows: Record<string, number>[];
}

/** Runs whose configs are equal apart from the seed (and where they write): one setting, several seeds. */
export interface RunGroup {
  /** the keys that tell this group from the others, `key=value, …` ('all runs' for one group) */
  label: string;
  runs: ComparedRun[];
  /** each run's `seed` */
  seeds: unknown[];
}

/** Config keys that do not make two runs different settings: the seed, and where a run writes. */
export const IGNORED_KEYS = /^(seed|logger\..*|checkpointing\.checkpoint_dir)$/;

/** `a.b.c` → JSON value for every leaf (lists are leaves). */
function leaves(value: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) leaves(v, prefix ? `${prefix}.${k}` : k, out);
  } else out.set(prefix, JSON.stringify(value) ?? 'null');
  return out;
}

/** Groups runs by their config without {@link IGNORED_KEYS}, in the order first seen. */
export function groupRuns(runs: readonly ComparedRun[], ignore = IGNORED_KEYS): RunGroup[] {
  const keyed = runs.map((run) => {
    const l = [...leaves(run.config)].filter(([k]) => !ignore.test(k));
    return {
      run,
      leaves: new Map(l),
      key: JSON.stringify(l.sort(([a], [b]) => a.localeCompare(b))),
    };
  });
  const order: string[] = [];
  const byKey = new Map<string, typeof keyed>();
  for (const k of keyed) {
    if (!byKey.has(k.key)) {
      order.push(k.key);
      byKey.set(k.key, []);
    }
    byKey.get(k.key)!.push(k);
  }
  const firsts = order.map((k) => byKey.get(k)![0]!.leaves);
  const allKeys = [...new Set(firsts.flatMap((l) => [...l.keys()]))].sort();
  const differing = allKeys.filter(
    (k) => new Set(firsts.map((l) => l.get(k) ?? '(absent)')).size > 1,
  );
  return order.map((key, i) => {
    const members = byKey.get(key)!;
    const label =
      differing.length === 0
        ? 'all runs'
        : differing.map((k) => `${k}=${firsts[i]!.get(k) ?? '(absent)'}`).join(', ');
    return {
      label,
      runs: members.map((m) => m.run),
      seeds: members.map((m) => m.run.config['seed']),
    };
  });
}

/** A metric's final values by group, and each pair of groups tested. */
export interface FinalComparison {
  metric: string;
  groups: { label: string; values: number[]; mean: number; halfWidth: number }[];
  tests: { a: string; b: string; welch: WelchResult; significant: boolean }[];
}

/** What {@link compareRuns} found. */
export interface Comparison {
  groups: RunGroup[];
  metrics: string[];
  /** confidence level of the bands and intervals (0.95) */
  level: number;
  /** significance level of the tests (0.05) */
  alpha: number;
  /** per metric, per group: the mean curve with its confidence band */
  curves: Record<string, Series[]>;
  finals: FinalComparison[];
}

/** The last finite value of `metric` a run logged. */
function finalValue(rows: readonly Record<string, number>[], metric: string): number | undefined {
  for (let i = rows.length - 1; i >= 0; i--) {
    const v = rows[i]![metric];
    if (v !== undefined && Number.isFinite(v)) return v;
  }
  return undefined;
}

/** Metrics worth comparing by default: those the run report plots, and every held-out metric, logged by every run. */
export function defaultMetrics(runs: readonly ComparedRun[]): string[] {
  const names = runs.map(
    (r) => new Set(r.rows.flatMap((row) => Object.keys(row)).filter((k) => k !== 'step')),
  );
  const common = [...(names[0] ?? [])].filter((n) => names.every((s) => s.has(n)));
  const wanted = (n: string) =>
    n.startsWith('validation/') ||
    REPORT_PANELS.slice(0, 6).some((p) => p.patterns.some((re) => re.test(n)));
  return common.filter(wanted).sort();
}

/**
 * Curves and final values of `metrics` across groups of runs: at each step the
 * mean over a group's seeds with its Student-t confidence interval; each run's last
 * value of a metric as its final value; every pair of groups compared by Welch's
 * unequal-variances t-test (two-sided, significant when p < alpha; no correction
 * for the number of comparisons).
 */
export function compareRuns(
  groups: readonly RunGroup[],
  metrics: readonly string[],
  options: { level?: number; alpha?: number } = {},
): Comparison {
  const level = options.level ?? 0.95;
  const alpha = options.alpha ?? 0.05;
  const curves: Record<string, Series[]> = {};
  const finals: FinalComparison[] = [];
  for (const metric of metrics) {
    curves[metric] = groups.map((g) => {
      const byStep = new Map<number, number[]>();
      for (const run of g.runs)
        for (const row of run.rows) {
          const v = row[metric];
          if (v === undefined || !Number.isFinite(v)) continue;
          const list = byStep.get(row['step']!) ?? [];
          list.push(v);
          byStep.set(row['step']!, list);
        }
      const steps = [...byStep.keys()].sort((a, b) => a - b);
      const cis = steps.map((s) => [s, meanConfidenceInterval(byStep.get(s)!, level)] as const);
      return {
        name: `${g.label} (${g.runs.length} run${g.runs.length === 1 ? '' : 's'})`,
        points: cis.map(([s, ci]) => [s, ci.mean] as [number, number]),
        band: cis.filter(([, ci]) => ci.n >= 2).map(([s, ci]) => [s, ci.low, ci.high]),
      };
    });
    const perGroup = groups.map((g) => {
      const values = g.runs
        .map((r) => finalValue(r.rows, metric))
        .filter((v): v is number => v !== undefined);
      const ci = meanConfidenceInterval(values, level);
      return { label: g.label, values, mean: ci.mean, halfWidth: ci.halfWidth };
    });
    const tests: FinalComparison['tests'] = [];
    for (let i = 0; i < perGroup.length; i++)
      for (let j = i + 1; j < perGroup.length; j++) {
        const welch = welchTTest(perGroup[i]!.values, perGroup[j]!.values);
        tests.push({
          a: perGroup[i]!.label,
          b: perGroup[j]!.label,
          welch,
          significant: welch.p < alpha,
        });
      }
    finals.push({ metric, groups: perGroup, tests });
  }
  return { groups: [...groups], metrics: [...metrics], level, alpha, curves, finals };
}

const fmt = (v: number) => (Number.isFinite(v) ? Number(v.toPrecision(4)).toString() : '–');
const pct = (level: number) => `${Math.round(level * 100)}%`;

/** `mean ± half-width (n runs)` of one group's final values. */
function meanText(g: FinalComparison['groups'][number], level: number): string {
  const ci = Number.isFinite(g.halfWidth) ? ` ± ${fmt(g.halfWidth)}` : '';
  return `${fmt(g.mean)}${ci} (${g.values.length} run${g.values.length === 1 ? '' : 's'}${ci ? `, ${pct(level)} CI` : ''})`;
}

/** One line per tested pair: the difference, the test and its verdict. */
export function comparisonLines(c: Comparison): string[] {
  const lines: string[] = [];
  for (const f of c.finals) {
    lines.push(`${f.metric} (final value):`);
    for (const g of f.groups) lines.push(`  ${g.label}: ${meanText(g, c.level)}`);
    for (const t of f.tests) {
      const w = t.welch;
      const verdict = Number.isNaN(w.p)
        ? 'not testable (needs at least two runs with a spread on each side)'
        : `Welch's t-test t = ${fmt(w.t)}, df = ${fmt(w.df)}, p = ${w.p.toPrecision(3)}: ${t.significant ? `significant at α = ${c.alpha}` : `not significant at α = ${c.alpha}`}`;
      lines.push(
        `  ${t.a} vs ${t.b}: difference ${w.difference >= 0 ? '+' : ''}${fmt(w.difference)}; ${verdict}`,
      );
    }
  }
  return lines;
}

/** A self-contained HTML page: the curves side by side with their bands, and the tests of the final values. */
export function renderComparison(c: Comparison, title: string): string {
  const charts = c.metrics
    .map((m) => lineChart(m, c.curves[m] ?? [], { yLabel: m.split('/').pop() ?? m }))
    .filter((svg) => svg !== '');
  const runsTable = c.groups
    .map(
      (g) =>
        `<tr><td>${escapeHtml(g.label)}</td><td>${g.runs.map((r) => `<code>${escapeHtml(r.dir)}</code>`).join('<br>')}</td><td>${escapeHtml(g.seeds.map(String).join(', '))}</td></tr>`,
    )
    .join('');
  const finals = c.finals
    .map((f) => {
      const rows = f.tests
        .map((t) => {
          const w = t.welch;
          return `<tr><td><code>${escapeHtml(f.metric)}</code></td><td>${escapeHtml(t.a)}: ${escapeHtml(
            meanText(
              f.groups.find((g) => g.label === t.a)!,
              c.level,
            ),
          )}</td><td>${escapeHtml(t.b)}: ${escapeHtml(
            meanText(
              f.groups.find((g) => g.label === t.b)!,
              c.level,
            ),
          )}</td><td>${fmt(w.difference)}</td><td>${fmt(w.t)}</td><td>${fmt(w.df)}</td><td>${Number.isNaN(w.p) ? '–' : w.p.toPrecision(3)}</td><td class="${t.significant ? 'ok' : ''}">${Number.isNaN(w.p) ? 'not testable' : t.significant ? 'yes' : 'no'}</td></tr>`;
        })
        .join('');
      return rows;
    })
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1500px}h1{font-size:20px}.grid{display:flex;flex-wrap:wrap;gap:16px}
table{border-collapse:collapse;font-size:13px}td,th{border-bottom:1px solid #eee;padding:3px 10px;text-align:left;vertical-align:top}.ok{color:#1a7f37;font-weight:bold}</style>
</head><body>
<h1>${escapeHtml(title)}</h1>
<p>${c.groups.length} setting${c.groups.length === 1 ? '' : 's'} (runs grouped by config, ignoring the seed and output paths). Lines: the mean over a setting's runs at each step; shaded: its ${pct(c.level)} confidence interval (Student's t, n − 1 degrees of freedom), where two or more runs logged the step.</p>
<table><tr><th>setting</th><th>runs</th><th>seeds</th></tr>${runsTable}</table>
<div class="grid">${charts.join('\n')}</div>
<h2>Final values</h2>
<p>Each run's last logged value; each pair of settings compared by Welch's unequal-variances t-test (two-sided), significant when p &lt; ${c.alpha}, with no correction for the number of comparisons.</p>
<table><tr><th>metric</th><th>setting A</th><th>setting B</th><th>A − B</th><th>t</th><th>df</th><th>p</th><th>significant</th></tr>${finals}</table>
</body></html>
`;
}
