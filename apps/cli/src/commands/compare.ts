import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { RxrlUsageError } from '@rxrl/core/base';
import {
  compareRuns,
  comparisonLines,
  defaultMetrics,
  groupRuns,
  readMetricsJsonl,
  renderComparison,
  type ComparedRun,
} from '@rxrl/logging';
import type { Command } from '../command';
import { displayPath } from '../displayPath';

/** A run directory as `rxrl compare` needs it: metrics.jsonl and config.yaml. */
function readRun(cwd: string, given: string): ComparedRun {
  const dir = path.resolve(cwd, given);
  const metrics = path.join(dir, 'metrics.jsonl');
  const config = path.join(dir, 'config.yaml');
  if (!fs.existsSync(metrics))
    throw new RxrlUsageError(`${given}: no metrics.jsonl — is this an rxrl run directory?`);
  if (!fs.existsSync(config))
    throw new RxrlUsageError(`${given}: no config.yaml, so its setting is unknown`);
  const parsed: unknown = parse(fs.readFileSync(config, 'utf8'));
  return {
    dir: displayPath(cwd, dir),
    config: (parsed ?? {}) as Record<string, unknown>,
    rows: readMetricsJsonl(metrics),
  };
}

/** `rxrl compare`: metric curves of runs side by side, grouped by config, with confidence bands and tests. */
export const command: Command = {
  name: 'compare',
  summary:
    'Compare runs: curves by setting (mean ± 95% CI over seeds) and which final differences are significant (Welch t-test)',
  usage:
    'rxrl compare <run-dir> <run-dir> [...] [--metric name ...] [--out compare.html] [--alpha 0.05] [--title TEXT] [--force]',
  options: {
    metric: {
      type: 'string',
      multiple: true,
      valueName: 'name',
      description:
        'a metric to compare, e.g. validation/accuracy (default: the held-out metrics and the report’s loss, reward, accuracy, KL, lr and grad-norm metrics every run logged)',
    },
    out: {
      type: 'string',
      valueName: 'file',
      description:
        'the HTML report (default compare.html); an existing file is kept unless --force',
    },
    alpha: {
      type: 'string',
      valueName: 'p',
      description: 'significance level of the tests (default 0.05)',
    },
    title: { type: 'string', valueName: 'text', description: 'page title' },
    force: { type: 'boolean', description: 'overwrite the --out file if it exists' },
  },
  run({ values, positionals, io }) {
    if (positionals.length < 2)
      throw new RxrlUsageError('expected at least two run directories to compare');
    const alpha = values['alpha'] === undefined ? 0.05 : Number(values['alpha']);
    if (!(alpha > 0 && alpha < 1))
      throw new RxrlUsageError(
        `--alpha ${String(values['alpha'])}: expected a number between 0 and 1`,
      );
    const out = path.resolve(
      io.cwd,
      typeof values['out'] === 'string' ? values['out'] : 'compare.html',
    );
    if (fs.existsSync(out) && values['force'] !== true)
      throw new RxrlUsageError(
        `${displayPath(io.cwd, out)} exists; choose another --out or pass --force to replace it`,
      );
    const runs = positionals.map((p) => readRun(io.cwd, p));
    const requested = (values['metric'] as string[] | undefined) ?? [];
    const metrics = requested.length > 0 ? requested : defaultMetrics(runs);
    for (const m of requested) {
      const missing = runs.filter((r) => !r.rows.some((row) => m in row)).map((r) => r.dir);
      if (missing.length > 0)
        throw new RxrlUsageError(`--metric ${m}: not logged by ${missing.join(', ')}`);
    }
    if (metrics.length === 0)
      throw new RxrlUsageError('the runs share no metric to compare; name one with --metric');
    const groups = groupRuns(runs);
    const comparison = compareRuns(groups, metrics, { alpha });
    io.out(
      `rxrl compare: ${runs.length} runs in ${groups.length} setting${groups.length === 1 ? '' : 's'} (grouped by config, seed and output paths aside):`,
    );
    for (const g of groups) io.out(`  ${g.label}: ${g.runs.map((r) => r.dir).join(', ')}`);
    for (const line of comparisonLines(comparison)) io.out(line);
    const title =
      typeof values['title'] === 'string'
        ? values['title']
        : `rxrl compare: ${positionals.join(' ')}`;
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, renderComparison(comparison, title));
    io.out(`rxrl: wrote ${displayPath(io.cwd, out)}`);
  },
};
