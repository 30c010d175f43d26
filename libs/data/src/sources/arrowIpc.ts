import { open, type FileHandle } from 'node:fs/promises';
import { RxrlDataError } from '@rxrl/core/base';
import { RecordBatchReader, type RecordBatch } from 'apache-arrow';
import type { BlockReader } from './blockReader';
import { arrowRowsAt } from './arrowRows';
import type { DataRow } from './row';

function fail(path: string, what: string, cause: unknown): RxrlDataError {
  const message = cause instanceof Error ? cause.message : String(cause);
  return new RxrlDataError(`${what} ${path}: ${message}`, { source: path }, { cause });
}

async function readerFor(path: string) {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (cause) {
    throw fail(path, 'cannot open Arrow IPC file', cause);
  }
  try {
    const reader = await RecordBatchReader.from(handle);
    await reader.open();
    return { handle, reader };
  } catch (cause) {
    await handle.close();
    throw fail(path, 'cannot read Arrow IPC data in', cause);
  }
}

/**
 * Opens an Arrow IPC file (random access to each record batch) or stream
 * (sequential; a backwards jump reopens it). Blocks are record batches; their
 * sizes come from one pass over the batches at open.
 */
export async function openArrowIpc(path: string): Promise<BlockReader> {
  let { handle, reader } = await readerFor(path);
  const isFile = reader.isFile();
  const blockRows: number[] = [];
  try {
    if (isFile) {
      for (let i = 0; i < reader.numRecordBatches; i++)
        blockRows.push((await reader.readRecordBatch(i))!.numRows);
    } else {
      for await (const batch of reader) blockRows.push(batch.numRows);
    }
  } catch (cause) {
    await handle.close();
    throw fail(path, 'cannot read Arrow IPC data in', cause);
  }
  const numRows = blockRows.reduce((a, b) => a + b, 0);
  if (numRows === 0) {
    await handle.close();
    throw new RxrlDataError(`Arrow IPC file ${path} is empty (no rows)`, { source: path });
  }
  const starts = [0];
  for (const n of blockRows) starts.push(starts[starts.length - 1]! + n);

  // Stream format: a live iterator positioned before batch `next`.
  let iterator: AsyncIterator<RecordBatch> | null = null;
  let next = 0;
  const streamBatch = async (block: number): Promise<RecordBatch> => {
    if (!iterator || block < next) {
      await handle.close();
      ({ handle, reader } = await readerFor(path));
      iterator = (reader as AsyncIterable<RecordBatch>)[Symbol.asyncIterator]();
      next = 0;
    }
    for (;;) {
      const r = await iterator.next();
      if (r.done)
        throw new RxrlDataError(`Arrow IPC stream ${path} ended before batch ${block}`, {
          source: path,
        });
      if (next++ === block) return r.value;
    }
  };

  return {
    source: path,
    blockRows,
    numRows,
    async readBlock(block, wanted) {
      let batch: RecordBatch;
      try {
        batch = isFile ? (await reader.readRecordBatch(block))! : await streamBatch(block);
      } catch (cause) {
        throw cause instanceof RxrlDataError
          ? cause
          : fail(path, `cannot read record batch ${block} of`, cause);
      }
      const picks = wanted ?? Int32Array.from({ length: batch.numRows }, (_, i) => i);
      return arrowRowsAt(batch, picks).map((d, i): DataRow => ({
        source: path,
        row: starts[block]! + picks[i]!,
        data: d,
      }));
    },
    close: () => handle.close(),
  };
}
