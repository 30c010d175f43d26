import type { RecordBatch, Table } from 'apache-arrow';
import { RxrlDataError } from '@rxrl/core/base';
import type { BlockReader } from './blockReader';
import { arrowRowsAt } from './arrowRows';
import type { DataRow } from './row';

/** A block reader over an Arrow table (or batches) already in memory; blocks are its record batches. */
export function fromArrow(
  data: Table | readonly RecordBatch[],
  name = 'in-memory Arrow table',
): BlockReader {
  const batches = (Array.isArray(data) ? data : (data as Table).batches).filter(
    (b) => b.numRows > 0,
  );
  const blockRows = batches.map((b) => b.numRows);
  const numRows = blockRows.reduce((a, b) => a + b, 0);
  if (numRows === 0) throw new RxrlDataError(`${name} is empty (no rows)`, { source: name });
  const starts = [0];
  for (const n of blockRows) starts.push(starts[starts.length - 1]! + n);
  return {
    source: name,
    blockRows,
    numRows,
    async readBlock(block, wanted) {
      const batch = batches[block]!;
      const picks = wanted ?? Int32Array.from({ length: batch.numRows }, (_, i) => i);
      return arrowRowsAt(batch, picks).map((d, i): DataRow => ({
        source: name,
        row: starts[block]! + picks[i]!,
        data: d,
      }));
    },
    close: async () => {},
  };
}
