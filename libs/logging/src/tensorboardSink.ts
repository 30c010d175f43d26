import type { MetricSink, StepMetrics } from './metricSink';
import { TensorBoardWriter } from './tensorboard/eventWriter';

/** Scalars for every metric and histograms for per-sample arrays, into `<logDir>/events.out.tfevents.*`. */
export class TensorBoardSink implements MetricSink {
  private readonly writer: TensorBoardWriter;
  constructor(logDir: string) {
    this.writer = new TensorBoardWriter(logDir);
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
