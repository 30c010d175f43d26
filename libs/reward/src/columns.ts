// Arrow access for the reward stage: text and scalar columns are read row-wise
// (rewards are per-sample work; the per-row cost is nothing next to them), token
// counts and appended columns go through core's zero-copy helpers.
import * as arrow from 'apache-arrow';
import { addColumns, readList } from '@rxrl/core/base';

/** The Utf8 (or dictionary-of-Utf8) column `name` as an array of strings/nulls, or undefined if absent. */
export function readStrings(batch: arrow.RecordBatch, name: string): (string | null)[] | undefined {
  const col = batch.getChild(name);
  if (!col) return undefined;
  const out = new Array<string | null>(batch.numRows);
  for (let i = 0; i < batch.numRows; i++) {
    const v = col.get(i);
    out[i] = v == null ? null : String(v);
  }
  return out;
}

/** Per-row lengths of a List column (from its offsets, no row access), or undefined if absent. */
export function readListLengths(batch: arrow.RecordBatch, name: string): Int32Array | undefined {
  const col = batch.getChild(name);
  if (!col) return undefined;
  const { offsets } = readList(col, name);
  const out = new Int32Array(offsets.length - 1);
  for (let i = 0; i < out.length; i++) out[i] = offsets[i + 1] - offsets[i];
  return out;
}

/** True for column types a reward function can use as a plain JS value. */
export function isScalarType(type: arrow.DataType): boolean {
  return (
    arrow.DataType.isInt(type) ||
    arrow.DataType.isFloat(type) ||
    arrow.DataType.isBool(type) ||
    arrow.DataType.isUtf8(type) ||
    (arrow.DataType.isDictionary(type) && arrow.DataType.isUtf8(type.dictionary))
  );
}

/** Row `i` of a scalar column as a plain value (bigint widened to number). */
export function scalarAt(col: arrow.Vector, i: number): unknown {
  const v = col.get(i);
  return typeof v === 'bigint' ? Number(v) : v;
}

/** A new batch with Float32 `columns` (NaN marks missing) appended; existing columns are shared, not copied. */
export function appendFloat32Columns(
  batch: arrow.RecordBatch,
  columns: { name: string; values: Float32Array }[],
): arrow.RecordBatch {
  return addColumns(batch, Object.fromEntries(columns.map((c) => [c.name, c.values])));
}
