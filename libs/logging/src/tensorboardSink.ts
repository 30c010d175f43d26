import type { MetricSink, StepMetrics } from './metricSink';
import { TensorBoardWriter } from './tensorboard/eventWriter';

/** Scalars for every metric and histograms for per-sample arrays, into `<logDir>/events.out.tfevents.*`. */
export class TensorBoardSink implements MetricSink {
  private readonly writer: TensorBoardWriter;
  /** `resumeAt`: the first step a resumed run logs; earlier files' events from it on are superseded. */
  constructor(logDir: string, options: { resumeAt?: number } = {}) {
    this.writer = new TensorBoardWriter(logDir);
    if (options.resumeAt !== undefined) {
      this.writer.sessionStart(options.resumeAt);
      this.writer.flush();
    }
  }
  get path(): string {
    return this.writer.path;
  }
  record(entry: StepMetrics): void {
    for (const [k, v] of Object.entries(entry.metrics)) this.writer.scalar(k, v, entry.step);
    for (const [k, v] of Object.entries(entry.histograms ?? {}))
      this.writer.histogram(k, v, entry.step);
    this.writer.flush();
  }
  close(): void {
    this.writer.close();
  }
}
