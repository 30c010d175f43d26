import type { MetricSink, StepMetrics } from './metricSink';

export interface ProgressOptions {
  totalSteps: number;
  /** metric names shown, with short labels */
  fields?: { name: string; label: string; digits?: number }[];
  /** defaults to process.stdout */
  stream?: NodeJS.WriteStream | { write(s: string): boolean; isTTY?: boolean; columns?: number };
  /**
   * plain lines every N steps when the stream is not a TTY (CI logs, pipes);
   * default: about 200 lines per run. Steps with validation metrics and the
   * last step are always printed.
   */
  plainEvery?: number;
  now?: () => number;
}

const DEFAULT_FIELDS = [
  { name: 'train/loss', label: 'loss', digits: 4 },
  { name: 'train/reward', label: 'reward', digits: 3 },
  { name: 'performance/tokens_per_sec', label: 'tok/s', digits: 0 },
];

/** `1h02m`, `3m05s`, `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(r).padStart(2, '0')}s`;
  return `${r}s`;
}

/**
 * A progress bar with step, loss, reward, tokens/s and ETA on a terminal,
 * redrawn in place; plain lines when the output is not a TTY, so logs stay readable.
 */
export class ProgressSink implements MetricSink {
  private readonly start: number;
  private readonly stream: NonNullable<ProgressOptions['stream']>;
  private readonly fields: NonNullable<ProgressOptions['fields']>;
  private readonly now: () => number;
  private lastLen = 0;
  private readonly firstValidation = new Map<string, number>();

  constructor(private readonly options: ProgressOptions) {
    this.stream = options.stream ?? process.stdout;
    this.fields = options.fields ?? DEFAULT_FIELDS;
    this.now = options.now ?? (() => performance.now() / 1000);
    this.start = this.now();
  }

  /** The text shown for a step (without the bar when `plain`). */
  line(entry: StepMetrics, plain: boolean): string {
    const { totalSteps } = this.options;
    const elapsed = this.now() - this.start;
    const eta = entry.step > 0 ? (elapsed / entry.step) * (totalSteps - entry.step) : NaN;
    const parts = this.fields
      .filter((f) => entry.metrics[f.name] !== undefined)
      .map((f) => `${f.label} ${entry.metrics[f.name]!.toFixed(f.digits ?? 3)}`);
    const head = `step ${entry.step}/${totalSteps}`;
    const tail = `${formatDuration(elapsed)} elapsed, ETA ${formatDuration(eta)}`;
    if (plain) return [head, ...parts, tail].join(' | ');
    const width = 20;
    const filled = Math.min(width, Math.round((entry.step / Math.max(1, totalSteps)) * width));
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
    return [`${bar} ${head}`, ...parts, tail].join(' | ');
  }

  /** Clears the bar on a terminal so a status line printed next starts on a clean line; the next step redraws it. */
  clearLine(): void {
    if (!this.stream.isTTY || this.lastLen === 0) return;
    this.stream.write(`\r${' '.repeat(this.lastLen)}\r`);
    this.lastLen = 0;
  }

  /**
   * `validation at step 250/1500: accuracy 0.2730 (start 0.2969, -0.0239)`: every
   * validation metric with how far it moved from the run's first validation, so a
   * dip below the start is plain to see.
   */
  validationLine(entry: StepMetrics): string | null {
    const keys = Object.keys(entry.metrics).filter((k) => k.startsWith('validation/'));
    if (keys.length === 0) return null;
    // counts print as integers, and a value that has not moved needs no comparison
    const show = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(4));
    const parts = keys.map((k) => {
      const v = entry.metrics[k]!;
      const name = k.slice('validation/'.length);
      const start = this.firstValidation.get(k);
      if (start === undefined) {
        this.firstValidation.set(k, v);
        return `${name} ${show(v)}`;
      }
      if (v === start) return `${name} ${show(v)}`;
      const d = v - start;
      return `${name} ${show(v)} (start ${show(start)}, ${d >= 0 ? '+' : ''}${d.toFixed(4)})`;
    });
    return `validation at step ${entry.step}/${this.options.totalSteps}: ${parts.join(', ')}`;
  }

  record(entry: StepMetrics): void {
    const validation = this.validationLine(entry);
    if (this.stream.isTTY) {
      // a validation result stays on screen: its own line, above the bar
      if (validation !== null) {
        this.clearLine();
        this.stream.write(validation + '\n');
      }
      const text = this.line(entry, false).slice(0, Math.max(20, (this.stream.columns ?? 120) - 1));
      this.stream.write(`\r${text}${' '.repeat(Math.max(0, this.lastLen - text.length))}`);
      this.lastLen = text.length;
      if (entry.step >= this.options.totalSteps) this.stream.write('\n');
    } else {
      const every =
        this.options.plainEvery ?? Math.max(1, Math.ceil(this.options.totalSteps / 200));
      // a validation-only entry (step 0) has no training figures for a step line
      const training = Object.keys(entry.metrics).some((k) => !k.startsWith('validation/'));
      if (training && (entry.step % every === 0 || entry.step >= this.options.totalSteps)) {
        this.stream.write(this.line(entry, true) + '\n');
      }
      if (validation !== null) this.stream.write(validation + '\n');
    }
  }

  close(): void {
    if (this.stream.isTTY && this.lastLen > 0) this.stream.write('\n');
  }
}
