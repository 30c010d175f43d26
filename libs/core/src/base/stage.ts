import type { OperatorFunction } from 'rxjs';
import type { RecordBatch } from 'apache-arrow';

/**
 * A pipeline stage: an RxJS operator from record batches to record batches.
 * A stage adds columns; it never rewrites columns it did not make (DESIGN.md).
 */
export type Stage = OperatorFunction<RecordBatch, RecordBatch>;

/** A metric as it flows to the logging sinks. Names carry a `train/`, `validation/`, `timing/` or `performance/` prefix. */
export interface MetricEvent {
  step: number;
  name: string;
  value: number;
}
