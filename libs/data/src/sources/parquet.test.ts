import { afterAll, describe, expect, it } from 'vitest';
import { lastValueFrom, toArray } from 'rxjs';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import * as parquet from 'parquet-wasm';
import { RxrlDataError } from '@rxrl/core/base';
import { tempDir } from '../../test/tmp';
import { openParquet } from './parquet';
import { readRows } from './readRows';
import { readSource } from './readSource';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

// Fixture written with parquet-wasm's own writer from an Arrow table, 3 rows per row group.
const table = tableFromArrays({
  id: Int32Array.from({ length: 7 }, (_, i) => i),
  prompt: Array.from({ length: 7 }, (_, i) => `what is ${i}+${i}?`),
  answer: Array.from({ length: 7 }, (_, i) => String(2 * i)),
  score: Float64Array.from({ length: 7 }, (_, i) => i / 4),
});
const bytes = parquet.writeParquet(
  parquet.Table.fromIPCStream(tableToIPC(table, 'stream')),
  new parquet.WriterPropertiesBuilder().setMaxRowGroupSize(3).build(),
);
const path = tmp.write('tasks.parquet', bytes);

describe('Parquet source', () => {
  it('streams by row group and reads back every row and type', async () => {
    const reader = await openParquet(path);
    expect(reader.blockRows).toEqual([3, 3, 1]);
    const rows = await lastValueFrom(readRows(reader, { shuffle: false }).pipe(toArray()));
    await reader.close();
    expect(rows.map((r) => r.data)).toEqual(
      Array.from({ length: 7 }, (_, i) => ({
        id: i,
        prompt: `what is ${i}+${i}?`,
        answer: String(2 * i),
        score: i / 4,
      })),
    );
    expect(rows.map((r) => r.row)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('reads only the projected columns, one row group per read', async () => {
    const reader = await openParquet(path, { columns: ['answer'] });
    const block = await reader.readBlock(1, Int32Array.of(0, 2));
    await reader.close();
    expect(block).toEqual([
      { source: path, row: 3, data: { answer: '6' } },
      { source: path, row: 5, data: { answer: '10' } },
    ]);
  });

  it('names a missing projected column and an unreadable file', async () => {
    const err = await openParquet(path, { columns: ['prompt', 'solution'] }).catch((e) => e);
    expect(err).toBeInstanceOf(RxrlDataError);
    expect(err.message).toBe(
      `Parquet file ${path} has no column 'solution' (columns: id, prompt, answer, score)`,
    );
    expect(err.location.field).toBe('solution');
    const corrupt = tmp.write(
      'corrupt.parquet',
      Buffer.concat([Buffer.from('PAR1'), Buffer.alloc(40, 7), Buffer.from('PAR1')]),
    );
    await expect(openParquet(corrupt)).rejects.toThrow(
      new RegExp(`^cannot read Parquet file ${corrupt}: `),
    );
    const truncated = tmp.write('truncated.parquet', bytes.subarray(0, bytes.length - 20));
    await expect(openParquet(truncated)).rejects.toThrow(RxrlDataError);
  });

  it('checks fields on Parquet rows, naming the row', async () => {
    const err = await lastValueFrom(
      readSource(path, { shuffle: false, fields: { answer: 'integer' } }),
    ).catch((e) => e);
    expect(err.message).toBe(`row 0 of ${path}: field 'answer': expected integer, got string`);
  });
});

describe('Parquet edge cases', () => {
  it('fails on a Parquet file with no rows', async () => {
    const empty = tableFromArrays({ id: new Int32Array(0) });
    const path = tmp.write(
      'empty.parquet',
      parquet.writeParquet(parquet.Table.fromIPCStream(tableToIPC(empty, 'stream'))),
    );
    await expect(openParquet(path)).rejects.toThrow(`Parquet file ${path} is empty (no rows)`);
  });
});

describe('Parquet shuffle, resume and shards', () => {
  const ids = async (opts: Parameters<typeof readSource>[1], limit = Infinity) => {
    const rows = await lastValueFrom(readSource(path, opts).pipe(toArray()));
    const head = rows.slice(0, limit);
    return { ids: head.map((r) => r.data.id as number), cursor: head[head.length - 1]?.cursor };
  };

  it('resumes a shuffled multi-epoch read from a saved cursor', async () => {
    const opts = { seed: 21, num_epochs: 2, columns: ['id'] };
    const full = (await ids(opts)).ids;
    expect([...full.slice(0, 7)].sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    for (const k of [2, 3, 7, 9]) {
      const head = await ids(opts, k);
      const rest = (await ids({ ...opts, cursor: head.cursor })).ids;
      expect([...head.ids, ...rest]).toEqual(full);
    }
  });

  it('gives disjoint shards that cover the file', async () => {
    const shards = await Promise.all(
      [0, 1].map((w) => ids({ seed: 4, num_shards: 2, shard_index: w })),
    );
    expect(shards.map((s) => s.ids.length)).toEqual([4, 3]);
    expect(shards.flatMap((s) => s.ids).sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });
});
