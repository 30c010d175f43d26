import {
  Bool,
  Float64,
  Int32,
  RecordBatch,
  Utf8,
  vectorFromArray,
  makeData,
  makeVector,
  type DataType,
  type Vector,
} from 'apache-arrow';
import { RxrlDataError, makeRecordBatch, type ColumnInput } from '@rxrl/core/base';
import { map, type OperatorFunction } from 'rxjs';
import type { RowBatch } from './batchRows';
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

const encoder = new TextEncoder();

/** Int32 / Float64 / Utf8 columns without nulls built straight into their buffers (arrow's builders cost ~10x more). */
function fastVector(values: unknown[], type: DataType | null): Vector | null {
  if (!type || values.includes(null)) return null;
  if (type instanceof Int32) return makeVector(Int32Array.from(values as number[]));
  if (type instanceof Float64) return makeVector(Float64Array.from(values as number[]));
  if (type instanceof Utf8) {
    const strings = values as string[];
    let bytes = 0;
    for (const s of strings) bytes += s.length * 3; // UTF-8 upper bound for UTF-16 input
    const data = new Uint8Array(bytes);
    const valueOffsets = new Int32Array(strings.length + 1);
    let at = 0;
    strings.forEach((s, i) => {
      at += encoder.encodeInto(s, data.subarray(at)).written;
      valueOffsets[i + 1] = at;
    });
    return makeVector(
      makeData({
        type,
        length: strings.length,
        nullCount: 0,
        valueOffsets,
        data: data.subarray(0, at),
      }),
    );
  }
  return null;
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
    out[name] = (fastVector(values, type) ??
      (type ? vectorFromArray(values, type) : vectorFromArray(values))) as Vector;
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

/**
 * Operator turning row batches into Arrow record batches (`rowsToRecordBatch`
 * per batch, cursor in the schema metadata), for pipelines with no tokeniser
 * between the source and the stages.
 */
export function toRecordBatches(
  columns?: readonly string[],
): OperatorFunction<RowBatch, RecordBatch> {
  return map((b) => rowsToRecordBatch(b.rows, columns, b.cursor));
}
