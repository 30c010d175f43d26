import { open, type FileHandle } from 'node:fs/promises';
import { RxrlDataError } from '@rxrl/core/base';
import { blockStarts, fixedBlocks, type BlockReader } from './blockReader';
import { invalidRow, rowError, type DataRow, type InvalidRow } from './row';

/** Options of `openJsonl`. */
export interface JsonlOptions {
  /** Lines per block, the unit of reading and of the first shuffle level. */
  block_rows?: number;
  /** Bytes read per call while indexing. */
  chunk_bytes?: number;
}

const NEWLINE = 0x0a;

function isBlank(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}

/**
 * Index of a JSONL file's non-blank lines: byte start/end and 1-based line
 * number of each, built in one streaming pass (bounded memory: 20 bytes a
 * row, never the file). CRLF line ends and blank lines are handled here.
 */
async function indexLines(file: FileHandle, chunkBytes: number) {
  let cap = 1024;
  let starts = new Float64Array(cap);
  let ends = new Float64Array(cap);
  let lines = new Int32Array(cap);
  let n = 0;
  const push = (s: number, e: number, line: number) => {
    if (n === cap) {
      cap *= 2;
      const s2 = new Float64Array(cap);
      s2.set(starts);
      starts = s2;
      const e2 = new Float64Array(cap);
      e2.set(ends);
      ends = e2;
      const l2 = new Int32Array(cap);
      l2.set(lines);
      lines = l2;
    }
    starts[n] = s;
    ends[n] = e;
    lines[n] = line;
    n++;
  };
  const buf = Buffer.allocUnsafe(chunkBytes);
  let filePos = 0;
  let lineStart = 0; // file offset of the current line
  let lineNo = 1;
  let blankSoFar = true; // current line (possibly spanning chunks) has only whitespace so far
  for (;;) {
    const { bytesRead } = await file.read(buf, 0, chunkBytes, filePos);
    if (bytesRead === 0) break;
    let from = 0;
    while (from < bytesRead) {
      const nl = buf.indexOf(NEWLINE, from);
      const stop = nl === -1 || nl >= bytesRead ? bytesRead : nl;
      if (blankSoFar && !isBlank(buf, from, stop)) blankSoFar = false;
      if (stop === bytesRead) break;
      const lineEnd = filePos + stop;
      if (!blankSoFar) push(lineStart, lineEnd, lineNo);
      lineNo++;
      lineStart = lineEnd + 1;
      blankSoFar = true;
      from = stop + 1;
    }
    filePos += bytesRead;
  }
  if (!blankSoFar) push(lineStart, filePos, lineNo);
  return {
    starts: starts.subarray(0, n),
    ends: ends.subarray(0, n),
    lines: lines.subarray(0, n),
    bytes: filePos,
  };
}

/**
 * Opens a JSON Lines file for block reads: one object per line, blank lines
 * skipped, CRLF accepted, line numbers kept for errors. An empty file (no
 * non-blank line) is an error.
 */
export async function openJsonl(path: string, options: JsonlOptions = {}): Promise<BlockReader> {
  const blockRowsOpt = options.block_rows ?? 4096;
  let file: FileHandle;
  try {
    file = await open(path, 'r');
  } catch (cause) {
    throw new RxrlDataError(
      `cannot open JSONL file ${path}: ${(cause as Error).message}`,
      { source: path },
      { cause },
    );
  }
  let index;
  try {
    index = await indexLines(file, options.chunk_bytes ?? 1 << 20);
  } catch (cause) {
    await file.close();
    throw new RxrlDataError(
      `cannot read JSONL file ${path}: ${(cause as Error).message}`,
      { source: path },
      { cause },
    );
  }
  const numRows = index.starts.length;
  if (numRows === 0) {
    await file.close();
    throw new RxrlDataError(
      `JSONL file ${path} is empty (${index.bytes} bytes, no non-blank line)`,
      { source: path },
    );
  }
  const blockRows = fixedBlocks(numRows, blockRowsOpt);
  const starts = blockStarts(blockRows);
  const decoder = new TextDecoder('utf-8', { fatal: true });

  return {
    source: path,
    blockRows,
    numRows,
    async readBlock(block, wanted) {
      const first = starts[block]!;
      const last = starts[block + 1]! - 1;
      const byteStart = index.starts[first]!;
      const byteEnd = index.ends[last]!;
      const bytes = Buffer.allocUnsafe(byteEnd - byteStart);
      let got = 0;
      while (got < bytes.length) {
        const { bytesRead } = await file.read(bytes, got, bytes.length - got, byteStart + got);
        if (bytesRead === 0)
          throw new RxrlDataError(`JSONL file ${path} shrank while reading`, { source: path });
        got += bytesRead;
      }
      const count = blockRows[block]!;
      const picks = wanted ?? Int32Array.from({ length: count }, (_, i) => i);
      const out: (DataRow | InvalidRow)[] = [];
      for (const k of picks) {
        const row = first + k;
        const loc = { source: path, row, line: index.lines[row]! };
        const text = bytes.subarray(index.starts[row]! - byteStart, index.ends[row]! - byteStart);
        let value: unknown;
        try {
          value = JSON.parse(decoder.decode(text));
        } catch (cause) {
          // a whole-file JSON array (`[` alone on line 1) is a common mix-up with JSON Lines
          const hint =
            row === 0 && text[0] === 0x5b
              ? '; the file looks like a JSON array, expected JSON Lines (one object per line)'
              : '';
          out.push(
            invalidRow(
              'malformed_json',
              rowError(
                loc,
                `not valid JSON (${(cause as Error).message})${hint}`,
                undefined,
                cause,
              ),
            ),
          );
          continue;
        }
        if (typeof value !== 'object' || value === null || Array.isArray(value)) {
          const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
          out.push(
            invalidRow('not_an_object', rowError(loc, `expected a JSON object, got ${got}`)),
          );
          continue;
        }
        out.push({ ...loc, data: value as Record<string, unknown> });
      }
      return out;
    },
    close: () => file.close(),
  };
}
