import { RxrlDataError } from '@rxrl/core/base';
import type { DataCursor } from './cursor';

/** Where a row came from, for error messages: the file (or name), its 0-based row and, for JSONL, its 1-based line. */
export interface RowLocation {
  source: string;
  row: number;
  line?: number;
}

/**
 * One example as read from a source, before tokenisation. Formats read
 * `data`; errors they raise name `source`, `line`/`row` and the field.
 */
export interface DataRow extends RowLocation {
  data: Record<string, unknown>;
  /** Cursor that resumes the stream right after this row (set by `readRows`). */
  cursor?: DataCursor;
}

/** A row a reader could not turn into a `DataRow`, with a short machine-readable reason. */
export interface InvalidRow {
  invalid: true;
  reason: InvalidReason;
  error: RxrlDataError;
}

/** Why a row was rejected; the key under which it is counted in `data/skipped_invalid/<reason>`. */
export type InvalidReason =
  'malformed_json' | 'not_an_object' | 'missing_field' | 'wrong_type' | (string & {});

/** `line 3 of data.jsonl` / `row 7 of data.parquet`. */
export function describeLocation(loc: Partial<RowLocation>): string {
  const where =
    loc.line !== undefined ? `line ${loc.line}` : loc.row !== undefined ? `row ${loc.row}` : '';
  return [where, loc.source].filter(Boolean).join(' of ');
}

/** A data error located at `loc` (and `field`), its message prefixed with the location. */
export function rowError(
  loc: Partial<RowLocation>,
  message: string,
  field?: string,
  cause?: unknown,
): RxrlDataError {
  const prefix = describeLocation(loc);
  const fieldPart = field !== undefined ? `field '${field}': ` : '';
  return new RxrlDataError(
    `${prefix ? prefix + ': ' : ''}${fieldPart}${message}`,
    { source: loc.source, line: loc.line, row: loc.row, field },
    cause === undefined ? undefined : { cause },
  );
}

/** An invalid-row record for `reason`. */
export function invalidRow(reason: InvalidReason, error: RxrlDataError): InvalidRow {
  return { invalid: true, reason, error };
}

/** Type guard separating rejected rows from good ones. */
export function isInvalid(x: DataRow | InvalidRow): x is InvalidRow {
  return (x as InvalidRow).invalid === true;
}
