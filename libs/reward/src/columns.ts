// Minimal Arrow column access for this stage: read text/scalar columns row-wise
// (rewards are per-sample work, the per-row cost is irrelevant next to them) and
// append Float32 columns without copying the existing ones.
import * as arrow from 'apache-arrow';

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

/** Per-row lengths of a List column from its offsets, or undefined if absent. */
export function readListLengths(batch: arrow.RecordBatch, name: string): Int32Array | undefined {
  const col = batch.getChild(name);
  if (!col || !arrow.DataType.isList(col.type)) return undefined;
  const out = new Int32Array(batch.numRows);
  let row = 0;
  for (const data of col.data) {
    const off = data.valueOffsets;
    for (let i = 0; i < data.length; i++)
      out[row++] = off[data.offset + i + 1] - off[data.offset + i];
  }
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

/** A new batch with `columns` (Float32, non-null; NaN marks missing) appended; existing columns are shared, not copied. */
export function appendFloat32Columns(
  batch: arrow.RecordBatch,
  columns: { name: string; values: Float32Array }[],
): arrow.RecordBatch {
  const fields = [...batch.schema.fields];
  const children = [...batch.data.children];
  for (const { name, values } of columns) {
    fields.push(new arrow.Field(name, new arrow.Float32(), false));
    children.push(
      arrow.makeData({
        type: new arrow.Float32(),
        length: batch.numRows,
        nullCount: 0,
        data: values,
      }),
    );
  }
  const schema = new arrow.Schema(fields, batch.schema.metadata);
  const data = arrow.makeData({
    type: new arrow.Struct(fields),
    length: batch.numRows,
    nullCount: 0,
    children,
  });
  return new arrow.RecordBatch(schema, data);
}
