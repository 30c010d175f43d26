import { DataType, Precision, type RecordBatch, type Table, type Vector } from 'apache-arrow';

/** A JS value for one Arrow cell: lists become arrays, structs objects, 64-bit ints numbers when exact. */
function toPlain(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)
      ? Number(value)
      : value;
  }
  if (typeof value !== 'object') return value;
  if (value instanceof Date) return value;
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>);
  const v = value as {
    toArray?: () => unknown;
    toJSON?: () => unknown;
    [Symbol.iterator]?: unknown;
  };
  if (typeof v[Symbol.iterator] === 'function' && typeof v.toArray === 'function') {
    return Array.from(v as Iterable<unknown>, toPlain);
  }
  if (typeof v.toJSON === 'function') {
    const obj = v.toJSON() as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(obj)) out[k] = toPlain(x);
    return out;
  }
  return value;
}

/**
 * Row objects for rows `picks` of an Arrow batch, reading column by column.
 * Numeric columns are read from their typed arrays; others through the vector.
 */
export function arrowRowsAt(
  batch: RecordBatch | Table,
  picks: ArrayLike<number>,
): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = Array.from({ length: picks.length }, () => ({}));
  for (const field of batch.schema.fields) {
    const column = batch.getChild(field.name) as Vector;
    const numeric =
      column.data.length === 1 &&
      column.nullCount === 0 &&
      ((DataType.isInt(field.type) && field.type.bitWidth <= 32) ||
        (DataType.isFloat(field.type) && field.type.precision !== Precision.HALF));
    const values = numeric ? (column.data[0]!.values as ArrayLike<number>) : null;
    for (let i = 0; i < picks.length; i++) {
      rows[i]![field.name] = values ? values[picks[i]!] : toPlain(column.get(picks[i]!));
    }
  }
  return rows;
}
