import { Observable } from 'rxjs';
import type { DataRow } from './row';
import { openSource, type OpenSourceOptions } from './openSource';
import { readRows, type ReadRowsOptions } from './readRows';

/**
 * Rows of the file at `path` (JSONL, Parquet or Arrow IPC) as a cold
 * Observable that opens the file on subscribe and closes it on completion,
 * error or unsubscribe. Combines `openSource` and `readRows`.
 *
 * @example
 * readSource('train.parquet', { columns: ['prompt', 'answer'], seed: 7, num_epochs: 3 })
 *   .pipe(batchRows(32))
 *   .subscribe(({ rows, cursor }) => ...);
 */
export function readSource(
  path: string,
  options: OpenSourceOptions & ReadRowsOptions = {},
): Observable<DataRow> {
  return new Observable<DataRow>((subscriber) => {
    let closed = false;
    let close: (() => Promise<void>) | null = null;
    let inner: { unsubscribe(): void } | null = null;
    openSource(path, options).then(
      (reader) => {
        let done = false;
        const closeOnce = () => (done ? Promise.resolve() : ((done = true), reader.close()));
        close = closeOnce;
        if (closed) {
          void close();
          return;
        }
        try {
          inner = readRows(reader, options).subscribe({
            next: (row) => subscriber.next(row),
            error: (e) => void closeOnce().finally(() => subscriber.error(e)),
            complete: () => void closeOnce().finally(() => subscriber.complete()),
          });
        } catch (e) {
          void closeOnce().finally(() => subscriber.error(e));
        }
      },
      (e) => subscriber.error(e),
    );
    return () => {
      closed = true;
      inner?.unsubscribe();
      if (close) void close().catch(() => {});
    };
  });
}
