import {
  Bool,
  Float64,
  Int32,
  RecordBatch,
  Utf8,
  vectorFromArray,
  type DataType,
  type Vector,
} from 'apache-arrow';
import { RxrlDataError, makeRecordBatch, type ColumnInput } from '@rxrl/core/base';
import type { DataCursor } from './cursor';
import type { DataRow } from './row';

/** Schema metadata key under which a batch carries the data cursor that resumes after it. */
export const CURSOR_METADATA_KEY = 'rxrl.data_cursor';

function inferType(name: string, rows: readonly DataRow[]): DataType | null {
  let kind: 'int' | 'float' | 'string' | 'bool' | 'other' | null = null;
  for (const r of rows) {
    const v = r.data[name];
    if (v === undefined || v === null) continue;
    const k =
      typeof v === 'number'
        ? Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff
          ? 'int'
          : 'float'
        : typeof v === 'string'
          ? 'string'
          : typeof v === 'boolean'
            ? 'bool'
            : 'other';
    if (kind === null || kind === k) kind = k;
    else if ((kind === 'int' && k === 'float') || (kind === 'float' && k === 'int')) kind = 'float';
    else {
      const r0 = rows.find((x) => x.data[name] !== undefined && x.data[name] !== null)!;
      throw new RxrlDataError(
        `column '${name}' mixes types (${typeof r0.data[name]} at row ${r0.row} of ${r0.source}, ${typeof v} at row ${r.row} of ${r.source})`,
        { source: r.source, row: r.row, line: r.line, field: name },
      );
    }
  }
  switch (kind) {
    case 'int':
      return new Int32();
    case 'float':
      return new Float64();
    case 'string':
      return new Utf8();
    case 'bool':
      return new Bool();
    default:
      return null; // let arrow infer lists and structs
  }
}

/**
 * An Arrow record batch from rows: integers become Int32, other numbers
 * Float64, strings Utf8, booleans Bool, arrays and objects whatever Arrow
 * infers (lists, structs). `columns` picks and orders the columns (default:
 * the union of the rows' keys in first-seen order). The batch's schema
 * metadata carries the resume cursor of its last row.
 */
export function rowsToRecordBatch(
  rows: readonly DataRow[],
  columns?: readonly string[],
  cursor?: DataCursor,
): RecordBatch {
  const names = columns ?? [...new Set(rows.flatMap((r) => Object.keys(r.data)))];
  const out: Record<string, ColumnInput> = {};
  for (const name of names) {
    const values = rows.map((r) => r.data[name] ?? null);
    const type = inferType(name, rows);
    out[name] = (type ? vectorFromArray(values, type) : vectorFromArray(values)) as Vector;
  }
  const last = cursor ?? rows[rows.length - 1]?.cursor;
  return makeRecordBatch(
    out,
    last ? new Map([[CURSOR_METADATA_KEY, JSON.stringify(last)]]) : undefined,
  );
}

/** The data cursor a batch from `rowsToRecordBatch` carries, if any. */
export function batchCursor(batch: RecordBatch): DataCursor | undefined {
  const raw = batch.schema.metadata.get(CURSOR_METADATA_KEY);
  return raw ? (JSON.parse(raw) as DataCursor) : undefined;
}
