import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { MetricSink, StepMetrics } from './metricSink';

/**
 * `metrics.jsonl`: one JSON object per step, `{"step": 3, "train/loss": 0.4, ...}`.
 * Non-finite values are written as strings ("NaN", "Infinity") because JSON
 * has no literal for them, and read back as numbers by `readMetricsJsonl`.
 * Appends synchronously so a crash loses at most the step being written.
 */
export class JsonlSink implements MetricSink {
  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }
  record(entry: StepMetrics): void {
    const row: Record<string, number | string> = { step: entry.step };
    for (const [k, v] of Object.entries(entry.metrics)) row[k] = Number.isFinite(v) ? v : String(v);
    appendFileSync(this.path, JSON.stringify(row) + '\n');
  }
  close(): void {}
}

/** Read a metrics.jsonl back into rows with numbers (NaN/±Infinity restored). */
export function readMetricsJsonl(path: string): Record<string, number>[] {
  const text = readFileSync(path, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line) => {
      const raw = JSON.parse(line) as Record<string, number | string>;
      const out: Record<string, number> = {};
      for (const [k, v] of Object.entries(raw)) out[k] = typeof v === 'number' ? v : Number(v);
      return out;
    });
}
