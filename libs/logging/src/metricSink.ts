/**
 * Where metrics go. A run writes one `record` per step with every metric of
 * that step; sinks decide what to do with it (a file line, TensorBoard
 * scalars, a progress bar). Names carry `train/`, `validation/`, `timing/` or
 * `performance/` prefixes (DESIGN.md).
 */
export interface StepMetrics {
  step: number;
  /** flat map of metric name → value; NaN is allowed and kept */
  metrics: Record<string, number>;
  /** optional per-sample arrays, written as histograms where a sink supports them */
  histograms?: Record<string, ArrayLike<number>>;
}

export interface MetricSink {
  record(entry: StepMetrics): void;
  close(): void;
}

const PREFIXES = ['train/', 'validation/', 'timing/', 'performance/'];

/** Throws if a metric name lacks one of the four prefixes, so a typo shows up at the first step. */
export function checkMetricNames(metrics: Record<string, number>): void {
  for (const name of Object.keys(metrics)) {
    if (!PREFIXES.some((p) => name.startsWith(p))) {
      throw new Error(`metric '${name}' must start with one of ${PREFIXES.join(', ')}`);
    }
  }
}

/** Fan one record out to several sinks. */
export class MultiSink implements MetricSink {
  constructor(private readonly sinks: MetricSink[]) {}
  record(entry: StepMetrics): void {
    checkMetricNames(entry.metrics);
    for (const s of this.sinks) s.record(entry);
  }
  close(): void {
    for (const s of this.sinks) s.close();
  }
}
