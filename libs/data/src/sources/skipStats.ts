import type { MetricEvent, RxrlDataError } from '@rxrl/core/base';
import type { InvalidReason } from './row';

/**
 * Counts of rows skipped with `skip_invalid: true`, by reason, plus the first
 * few errors verbatim, so nothing is dropped without a trace. One instance can
 * be shared by a source and the format stage after it.
 */
export class SkipStats {
  /** Rows seen (good and skipped). */
  seen = 0;
  readonly byReason = new Map<InvalidReason, number>();
  /** The first `keepExamples` errors, for reports. */
  readonly examples: RxrlDataError[] = [];

  constructor(
    private readonly keepExamples = 5,
    private readonly onSkip?: (reason: InvalidReason, error: RxrlDataError) => void,
  ) {}

  /** Total rows skipped. */
  get skipped(): number {
    let n = 0;
    for (const c of this.byReason.values()) n += c;
    return n;
  }

  /** Records one skipped row. */
  skip(reason: InvalidReason, error: RxrlDataError): void {
    this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1);
    if (this.examples.length < this.keepExamples) this.examples.push(error);
    this.onSkip?.(reason, error);
  }

  /**
   * Metrics `<prefix>/data/skipped_invalid` (total) and
   * `<prefix>/data/skipped_invalid/<reason>`; prefix per DESIGN.md (`train`, `validation`).
   */
  toMetrics(step: number, prefix = 'train'): MetricEvent[] {
    const base = `${prefix}/data/skipped_invalid`;
    const out: MetricEvent[] = [{ step, name: base, value: this.skipped }];
    for (const [reason, value] of [...this.byReason].sort(([a], [b]) => (a < b ? -1 : 1))) {
      out.push({ step, name: `${base}/${reason}`, value });
    }
    return out;
  }

  /** One line for logs: `skipped 3 of 120 rows (malformed_json: 2, missing_field: 1)`. */
  summary(): string {
    const parts = [...this.byReason].map(([r, n]) => `${r}: ${n}`).join(', ');
    return `skipped ${this.skipped} of ${this.seen} rows${parts ? ` (${parts})` : ''}`;
  }
}
