import * as fs from 'node:fs';
import * as path from 'node:path';
import { readMetricsJsonl } from '@rxrl/logging';
import { displayPath } from './displayPath';

/**
 * The closing lines of a training run: each held-out metric before → after (its
 * first and last values in `<run>/metrics.jsonl`, so a resumed run still compares
 * with where it began), the run directory, the policy and the report.
 */
export function runEnding(
  runDir: string,
  cwd: string,
  metrics: readonly [label: string, key: string][],
  policyDir: string | null,
): string[] {
  const file = path.join(runDir, 'metrics.jsonl');
  const rows = fs.existsSync(file) ? readMetricsJsonl(file) : [];
  const lines: string[] = [];
  for (const [label, key] of metrics) {
    const seen = rows.filter((r) => r[key] !== undefined);
    if (seen.length === 0) continue;
    const first = seen[0]!;
    const last = seen.at(-1)!;
    lines.push(
      `rxrl: held-out ${label} ${first[key]!.toFixed(4)} (step ${first['step']}) -> ${last[key]!.toFixed(4)} (step ${last['step']})`,
    );
  }
  if (lines.length === 0) lines.push('rxrl: no held-out metrics were logged (no validation ran)');
  const report = path.join(runDir, 'report.html');
  lines.push(
    `rxrl: run directory ${displayPath(cwd, runDir)}` +
      (policyDir !== null ? `; policy ${displayPath(cwd, policyDir)}` : '') +
      `; report ${fs.existsSync(report) ? displayPath(cwd, report) : 'not written'}`,
  );
  return lines;
}
