import { openAsBlob } from 'node:fs';
import { RxrlDataError } from '@rxrl/core/base';
import { tableFromIPC, type Schema } from 'apache-arrow';
import * as parquet from 'parquet-wasm';
import type { BlockReader } from './blockReader';
import { arrowRowsAt } from './arrowRows';
import type { DataRow } from './row';

/** Options of `openParquet`. */
export interface ParquetOptions {
  /** Columns to read (projection); all when omitted. A name the file lacks is an error. */
  columns?: string[];
}

function fail(path: string, what: string, cause: unknown, field?: string): RxrlDataError {
  const message = cause instanceof Error ? cause.message : String(cause);
  return new RxrlDataError(`${what} ${path}: ${message}`, { source: path, field }, { cause });
}

/** Arrow schema of a Parquet file as arrow-js sees it. */
export function parquetArrowSchema(file: parquet.ParquetFile): Schema {
  return tableFromIPC(file.schema().intoIPCStream()).schema;
}

/**
 * Opens a Parquet file for reading one row group at a time through
 * parquet-wasm: the file stays on disk behind a Blob and only the requested
 * row group's column chunks are read and decoded.
 */
export async function openParquet(
  path: string,
  options: ParquetOptions = {},
): Promise<BlockReader> {
  let file: parquet.ParquetFile;
  try {
    file = await parquet.ParquetFile.fromFile(await openAsBlob(path));
  } catch (cause) {
    throw fail(path, 'cannot read Parquet file', cause);
  }
  const meta = file.metadata();
  const blockRows = meta.rowGroups().map((g) => g.numRows());
  const numRows = blockRows.reduce((a, b) => a + b, 0);
  if (numRows === 0) {
    file.free();
    throw new RxrlDataError(`Parquet file ${path} is empty (no rows)`, { source: path });
  }
  const names = parquetArrowSchema(file).fields.map((f) => f.name);
  for (const c of options.columns ?? []) {
    if (!names.includes(c)) {
      file.free();
      throw new RxrlDataError(
        `Parquet file ${path} has no column '${c}' (columns: ${names.join(', ')})`,
        {
          source: path,
          field: c,
        },
      );
    }
  }
  const starts = [0];
  for (const n of blockRows) starts.push(starts[starts.length - 1]! + n);

  return {
    source: path,
    blockRows,
    numRows,
    async readBlock(block, wanted) {
      let table;
      try {
        const wasmTable = await file.read({ rowGroups: [block], columns: options.columns });
        table = tableFromIPC(wasmTable.intoIPCStream());
      } catch (cause) {
        throw fail(path, `cannot decode row group ${block} of Parquet file`, cause);
      }
      const picks = wanted ?? Int32Array.from({ length: table.numRows }, (_, i) => i);
      const data = arrowRowsAt(table, picks);
      return data.map((d, i): DataRow => ({
        source: path,
        row: starts[block]! + picks[i]!,
        data: d,
      }));
    },
    close: async () => file.free(),
  };
}
