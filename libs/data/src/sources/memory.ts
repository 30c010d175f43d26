import { RxrlDataError } from '@rxrl/core/base';
import { blockStarts, fixedBlocks, type BlockReader } from './blockReader';
import { invalidRow, rowError, type DataRow, type InvalidRow } from './row';

/** Options of `fromRows`. */
export interface MemoryOptions {
  /** Name used in error messages. */
  name?: string;
  /** Rows per block; the default, all rows, gives a full shuffle. */
  block_rows?: number;
}

/** A block reader over rows already in memory (built-in tasks, tests, user arrays). */
export function fromRows(rows: readonly unknown[], options: MemoryOptions = {}): BlockReader {
  const source = options.name ?? 'in-memory rows';
  if (rows.length === 0) throw new RxrlDataError(`${source} is empty`, { source });
  const blockRows = fixedBlocks(rows.length, options.block_rows ?? rows.length);
  const starts = blockStarts(blockRows);
  return {
    source,
    blockRows,
    numRows: rows.length,
    async readBlock(block, wanted) {
      const first = starts[block]!;
      const picks = wanted ?? Int32Array.from({ length: blockRows[block]! }, (_, i) => i);
      const out: (DataRow | InvalidRow)[] = [];
      for (const k of picks) {
        const row = first + k;
        const value = rows[row];
        if (typeof value !== 'object' || value === null || Array.isArray(value)) {
          out.push(
            invalidRow(
              'not_an_object',
              rowError(
                { source, row },
                `expected an object, got ${value === null ? 'null' : typeof value}`,
              ),
            ),
          );
        } else out.push({ source, row, data: value as Record<string, unknown> });
      }
      return out;
    },
    close: async () => {},
  };
}
