import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { maskedCrc32c } from './crc32c';
import { ProtoWriter } from './protobuf';

/**
 * Writes TensorBoard event files (`events.out.tfevents.<time>.<host>`): a
 * TFRecord stream of `Event` protos, each framed as
 * `u64 length | u32 masked_crc32c(length) | data | u32 masked_crc32c(data)`.
 *
 * @example
 * const tb = new TensorBoardWriter('runs/grpo-1');
 * tb.scalar('train/loss', 0.42, 1);
 * tb.histogram('train/advantage', advantages, 1);
 * tb.close();
 */
export class TensorBoardWriter {
  readonly path: string;
  private fd: number | null;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;

  constructor(logDir: string, options: { filenameSuffix?: string } = {}) {
    mkdirSync(logDir, { recursive: true });
    const seconds = Math.floor(Date.now() / 1000);
    const base = join(
      logDir,
      `events.out.tfevents.${seconds}.${hostname()}${options.filenameSuffix ?? ''}`,
    );
    // a second writer in the same second (a quick resume) must not truncate the first file
    let path = base;
    let fd: number | null = null;
    for (let n = 1; fd === null; n++) {
      try {
        fd = openSync(path, 'wx');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        path = `${base}.${n}`;
      }
    }
    this.path = path;
    this.fd = fd;
    // TensorBoard identifies the format from this first event.
    this.writeEvent(new ProtoWriter().double(1, Date.now() / 1000).string(3, 'brain.Event:2'));
    this.flush();
  }

  scalar(tag: string, value: number, step: number, wallTime = Date.now() / 1000): void {
    const v = new ProtoWriter().string(1, tag).float(2, value);
    this.writeSummary(new ProtoWriter().message(1, v), step, wallTime);
  }

  /** A histogram of `values` in `bins` equal-width buckets (NaN and ±Inf are left out and not counted). */
  histogram(
    tag: string,
    values: ArrayLike<number>,
    step: number,
    bins = 30,
    wallTime = Date.now() / 1000,
  ): void {
    const finite: number[] = [];
    for (let i = 0; i < values.length; i++)
      if (Number.isFinite(values[i]!)) finite.push(values[i]!);
    if (finite.length === 0) return;
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    let sumSq = 0;
    for (const x of finite) {
      min = Math.min(min, x);
      max = Math.max(max, x);
      sum += x;
      sumSq += x * x;
    }
    const nb = max > min ? bins : 1;
    const width = (max - min) / nb;
    const limits = Array.from({ length: nb }, (_, i) =>
      i === nb - 1 ? max : min + width * (i + 1),
    );
    const counts = new Array<number>(nb).fill(0);
    for (const x of finite)
      counts[nb === 1 ? 0 : Math.min(nb - 1, Math.floor((x - min) / width))]!++;
    const histo = new ProtoWriter()
      .double(1, min)
      .double(2, max)
      .double(3, finite.length)
      .double(4, sum)
      .double(5, sumSq)
      .packedDoubles(6, limits)
      .packedDoubles(7, counts);
    const v = new ProtoWriter().string(1, tag).message(5, histo);
    this.writeSummary(new ProtoWriter().message(1, v), step, wallTime);
  }

  /**
   * A `SessionLog` START event at `step`: TensorBoard discards the events of
   * earlier files with a step ≥ `step` (its purge of orphaned data after a
   * restart), so a run resumed from a checkpoint does not show the steps the
   * interrupted run logged after that checkpoint twice.
   */
  sessionStart(step: number, wallTime = Date.now() / 1000): void {
    const START = 1; // SessionLog.SessionStatus
    const log = new ProtoWriter().int64(1, START);
    this.writeEvent(new ProtoWriter().double(1, wallTime).int64(2, step).message(7, log));
  }

  /** Hand buffered records to the OS and fsync, so a crash loses nothing already flushed. */
  flush(): void {
    if (this.fd === null || this.pendingBytes === 0) return;
    const all = new Uint8Array(this.pendingBytes);
    let off = 0;
    for (const p of this.pending) {
      all.set(p, off);
      off += p.length;
    }
    writeSync(this.fd, all);
    fsyncSync(this.fd);
    this.pending = [];
    this.pendingBytes = 0;
  }

  close(): void {
    if (this.fd === null) return;
    this.flush();
    closeSync(this.fd);
    this.fd = null;
  }

  private writeSummary(summary: ProtoWriter, step: number, wallTime: number): void {
    this.writeEvent(new ProtoWriter().double(1, wallTime).int64(2, step).message(5, summary));
  }

  private writeEvent(event: ProtoWriter): void {
    if (this.fd === null) throw new Error(`TensorBoardWriter: ${this.path} is closed`);
    const data = event.finish();
    const header = new Uint8Array(12);
    const view = new DataView(header.buffer);
    view.setBigUint64(0, BigInt(data.length), true);
    view.setUint32(8, maskedCrc32c(header.subarray(0, 8)), true);
    const footer = new Uint8Array(4);
    new DataView(footer.buffer).setUint32(0, maskedCrc32c(data), true);
    this.pending.push(header, data, footer);
    this.pendingBytes += header.length + data.length + footer.length;
  }
}
