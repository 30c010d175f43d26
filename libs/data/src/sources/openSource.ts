import { open } from 'node:fs/promises';
import { extname } from 'node:path';
import { RxrlDataError } from '@rxrl/core/base';
import { openArrowIpc } from './arrowIpc';
import type { BlockReader } from './blockReader';
import { openJsonl } from './jsonl';
import { openParquet } from './parquet';

/** File formats a source can read. */
export const SOURCE_FORMATS = ['jsonl', 'parquet', 'arrow'] as const;
export type SourceFormat = (typeof SOURCE_FORMATS)[number];

const EXTENSIONS: Record<string, SourceFormat> = {
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.json': 'jsonl',
  '.parquet': 'parquet',
  '.pq': 'parquet',
  '.arrow': 'arrow',
  '.arrows': 'arrow',
  '.feather': 'arrow',
  '.ipc': 'arrow',
};

/** Options of `openSource`. */
export interface OpenSourceOptions {
  /** Format; detected from the extension, then from the file's magic bytes, when omitted. */
  format?: string;
  /** Columns to read (Parquet projection). */
  columns?: string[];
  /** Rows per block for JSONL. */
  block_rows?: number;
}

async function sniff(path: string): Promise<SourceFormat | null> {
  let head: Buffer;
  try {
    const file = await open(path, 'r');
    try {
      head = Buffer.alloc(8);
      await file.read(head, 0, 8, 0);
    } finally {
      await file.close();
    }
  } catch (cause) {
    throw new RxrlDataError(
      `cannot open ${path}: ${(cause as Error).message}`,
      { source: path },
      { cause },
    );
  }
  if (head.subarray(0, 4).toString('latin1') === 'PAR1') return 'parquet';
  if (head.subarray(0, 6).toString('latin1') === 'ARROW1') return 'arrow';
  if (head.readUInt32LE(0) === 0xffffffff) return 'arrow'; // IPC stream continuation marker
  return null;
}

/**
 * Opens `path` with the reader for its format. An unknown format is an error
 * naming the file and the formats there are.
 */
export async function openSource(
  path: string,
  options: OpenSourceOptions = {},
): Promise<BlockReader> {
  let format = options.format ?? EXTENSIONS[extname(path).toLowerCase()] ?? (await sniff(path));
  if (format === 'json' || format === 'ndjson') format = 'jsonl';
  if (format === 'ipc' || format === 'feather') format = 'arrow';
  switch (format) {
    case 'jsonl':
      return openJsonl(path, { block_rows: options.block_rows });
    case 'parquet':
      return openParquet(path, { columns: options.columns });
    case 'arrow':
      return openArrowIpc(path);
    default:
      throw new RxrlDataError(
        `unknown data format ${format ? `'${format}'` : `for ${path} (extension '${extname(path)}', contents not recognised)`}` +
          `${format ? ` for ${path}` : ''}; expected one of ${SOURCE_FORMATS.join(', ')}`,
        { source: path, field: 'format' },
      );
  }
}
