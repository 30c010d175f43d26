import { Observable, type OperatorFunction } from 'rxjs';
import { RxrlConfigError } from '@rxrl/core/base';
import type { DataCursor } from './cursor';
import type { DataRow } from './row';

/** A fixed-size group of rows and the cursor that resumes after its last row. */
export interface RowBatch<T extends DataRow = DataRow> {
  rows: T[];
  cursor: DataCursor | undefined;
}

/**
 * Groups rows into batches of `batch_size`, each with the cursor of its last
 * row (save it with the checkpoint taken after that batch). The final shorter
 * batch is emitted unless `drop_last`.
 */
export function batchRows<T extends DataRow>(
  batch_size: number,
  drop_last = false,
): OperatorFunction<T, RowBatch<T>> {
  if (!Number.isInteger(batch_size) || batch_size < 1) {
    throw new RxrlConfigError(`batch_size must be a positive integer, got ${batch_size}`);
  }
  return (source) =>
    new Observable<RowBatch<T>>((subscriber) => {
      let rows: T[] = [];
      return source.subscribe({
        next(row) {
          rows.push(row);
          if (rows.length === batch_size) {
            const out = { rows, cursor: row.cursor };
            rows = [];
            subscriber.next(out);
          }
        },
        error: (e) => subscriber.error(e),
        complete() {
          if (rows.length > 0 && !drop_last)
            subscriber.next({ rows, cursor: rows[rows.length - 1]!.cursor });
          subscriber.complete();
        },
      });
    });
}
