import { Observable, type OperatorFunction } from 'rxjs';
import { RxrlDataError } from '@rxrl/core/base';
import { describeLocation, type DataRow, type InvalidReason } from './row';
import type { SkipStats } from './skipStats';

/**
 * Runs `fn` on a row; an `RxrlDataError` it throws (say, a format's "missing
 * field") is rethrown with the row's file and line or row prepended and put in
 * its location, keeping the field. Lets format code stay unaware of files.
 */
export function locateErrors<T>(
  row: DataRow,
  fn: (data: Record<string, unknown>, row: DataRow) => T,
): T {
  try {
    return fn(row.data, row);
  } catch (e) {
    if (!(e instanceof RxrlDataError) || e.location.source !== undefined) throw e;
    const message = e.message.replace(/^row \d+: /, '');
    throw new RxrlDataError(
      `${describeLocation(row)}: ${message}`,
      { ...e.location, source: row.source, line: row.line, row: row.row },
      { cause: e },
    );
  }
}

/** Options of `mapRows`. */
export interface MapRowsOptions {
  /** Skip (and count in `stats`) rows `fn` rejects instead of failing the stream. */
  skip_invalid?: boolean;
  /** Where skipped rows are counted. */
  stats?: SkipStats;
  /** Reason rows rejected by `fn` are counted under (default `invalid_format`). */
  reason?: InvalidReason;
}

/**
 * Maps rows through `fn` (a format parser, a tokeniser) with located errors;
 * with `skip_invalid`, rejected rows are counted in `stats` and left out.
 */
export function mapRows<T>(
  fn: (data: Record<string, unknown>, row: DataRow) => T,
  options: MapRowsOptions = {},
): OperatorFunction<DataRow, T> {
  return (source) =>
    new Observable<T>((subscriber) =>
      source.subscribe({
        next(row) {
          let out: T;
          try {
            out = locateErrors(row, fn);
          } catch (e) {
            if (options.skip_invalid && e instanceof RxrlDataError) {
              options.stats?.skip(options.reason ?? 'invalid_format', e);
              return;
            }
            subscriber.error(e);
            return;
          }
          subscriber.next(out);
        },
        error: (e) => subscriber.error(e),
        complete: () => subscriber.complete(),
      }),
    );
}
