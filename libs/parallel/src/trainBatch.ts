import { RxrlDataError } from '@rxrl/core/base';
import { partRange } from './paramLayout';

/** A typed array column of a {@link TrainBatch}. */
export type BatchColumn = Int32Array | Float32Array | Uint8Array;

/**
 * A global batch as plain typed arrays, split between workers by rows. Every
 * column holds `rows × width` elements, row-major (width 1 for per-row values);
 * `globals` reach every shard unchanged — that is where the global-batch
 * normalisers go (valid tokens, valid sequences), so that shard losses and
 * gradients add up exactly to the full-batch ones.
 */
export interface TrainBatch {
  /** number of rows (sequences) */
  rows: number;
  /** per-row data, `rows × width` elements each */
  columns: Record<string, BatchColumn>;
  /** numbers every shard sees unchanged (global normalisers) */
  globals?: Record<string, number>;
}

/** Per-row width of each column, checked to divide evenly. */
export function columnWidths(batch: TrainBatch): Record<string, number> {
  if (!Number.isInteger(batch.rows) || batch.rows < 0) {
    throw new RxrlDataError(`train batch: rows must be a non-negative integer, got ${batch.rows}`, {
      field: 'rows',
    });
  }
  const widths: Record<string, number> = {};
  for (const [name, col] of Object.entries(batch.columns)) {
    const w = batch.rows === 0 ? 0 : col.length / batch.rows;
    if (!Number.isInteger(w)) {
      throw new RxrlDataError(
        `train batch: column '${name}' has ${col.length} elements, not a multiple of rows=${batch.rows}`,
        { field: name },
      );
    }
    widths[name] = w;
  }
  return widths;
}

/**
 * Rows `[lo, hi)` of `batch` as a new batch with copied columns (a copy, so a
 * postMessage clones only these rows, not the whole underlying buffer).
 */
export function sliceRows(
  batch: TrainBatch,
  lo: number,
  hi: number,
  widths = columnWidths(batch),
): TrainBatch {
  const columns: Record<string, BatchColumn> = {};
  for (const [name, col] of Object.entries(batch.columns)) {
    const w = widths[name]!;
    columns[name] = col.slice(lo * w, hi * w);
  }
  return { rows: hi - lo, columns, globals: { ...batch.globals } };
}

/** `batch` split into `parts` contiguous row shards of near-equal size (some may be empty). */
export function shardRows(batch: TrainBatch, parts: number): TrainBatch[] {
  const widths = columnWidths(batch);
  return Array.from({ length: parts }, (_, i) => {
    const [lo, hi] = partRange(batch.rows, parts, i);
    return sliceRows(batch, lo, hi, widths);
  });
}
