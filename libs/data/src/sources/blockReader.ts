import type { DataRow, InvalidRow } from './row';

/**
 * Random access to a source in blocks, its natural read unit (a Parquet row
 * group, an Arrow record batch, a run of JSONL lines). Sizes are known up
 * front so a stream can shuffle, shard and resume without reading what it
 * skips; one block at a time is in memory.
 */
export interface BlockReader {
  /** File path or a name, used in error messages. */
  readonly source: string;
  /** Rows in each block. */
  readonly blockRows: readonly number[];
  /** Total rows (sum of `blockRows`). */
  readonly numRows: number;
  /**
   * Rows of block `block` in file order, or only those at the in-block
   * indices `wanted` (ascending), so a shard does not parse its neighbours'
   * rows. Rows that cannot be read come back as `InvalidRow`s, never thrown,
   * so the caller decides between failing and skipping.
   */
  readBlock(block: number, wanted?: Int32Array): Promise<(DataRow | InvalidRow)[]>;
  /** Releases file handles. */
  close(): Promise<void>;
}

/** Block sizes of `numRows` rows cut into blocks of at most `blockRows`. */
export function fixedBlocks(numRows: number, blockRows: number): number[] {
  const out: number[] = [];
  for (let start = 0; start < numRows; start += blockRows)
    out.push(Math.min(blockRows, numRows - start));
  return out;
}

/** Start row of each block (length blocks + 1). */
export function blockStarts(blockRows: readonly number[]): Float64Array {
  const starts = new Float64Array(blockRows.length + 1);
  for (let i = 0; i < blockRows.length; i++) starts[i + 1] = starts[i]! + blockRows[i]!;
  return starts;
}
