import { afterAll, describe, expect, it } from 'vitest';
import { lastValueFrom, toArray } from 'rxjs';
import { Table, tableToIPC } from 'apache-arrow';
import { listVectorFromRows, makeRecordBatch } from '@rxrl/core/base';
import { tempDir } from '../../test/tmp';
import { openArrowIpc } from './arrowIpc';
import { readRows } from './readRows';
import { openSource } from './openSource';
import { fromArrow } from './arrowTable';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const batch = (from: number, n: number) =>
  makeRecordBatch({
    prompt_id: Int32Array.from({ length: n }, (_, i) => from + i),
    prompt_tokens: listVectorFromRows(Array.from({ length: n }, (_, i) => [from + i, 100])),
  });
const table = new Table([batch(0, 4), batch(4, 2), batch(6, 3)]);

describe('Arrow IPC source', () => {
  for (const format of ['file', 'stream'] as const) {
    it(`reads an IPC ${format} batch by batch, shuffled and in order`, async () => {
      const path = tmp.write(
        `t.${format === 'file' ? 'arrow' : 'arrows'}`,
        tableToIPC(table, format),
      );
      const reader = await openArrowIpc(path);
      expect(reader.blockRows).toEqual([4, 2, 3]);
      const inOrder = await lastValueFrom(readRows(reader, { shuffle: false }).pipe(toArray()));
      expect(inOrder.map((r) => r.data)).toEqual(
        Array.from({ length: 9 }, (_, i) => ({ prompt_id: i, prompt_tokens: [i, 100] })),
      );
      // shuffled block order forces backward jumps on a stream
      const shuffled = await lastValueFrom(
        readRows(reader, { seed: 11, num_epochs: 2 }).pipe(toArray()),
      );
      const ids = shuffled.map((r) => r.data.prompt_id as number);
      expect([...ids.slice(0, 9)].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
      expect([...ids.slice(9)].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
      for (const r of shuffled) expect(r.data.prompt_tokens).toEqual([r.data.prompt_id, 100]);
      await reader.close();
    });
  }

  it('fails on a file that is not Arrow, naming it', async () => {
    const path = tmp.write('junk.arrow', 'ARROW1\0\0 certainly not a footer');
    await expect(openArrowIpc(path)).rejects.toThrow(new RegExp(`Arrow IPC data in ${path}`));
  });
});

describe('openSource', () => {
  it('detects formats by extension and by magic bytes', async () => {
    const arrowPath = tmp.write('noext1', tableToIPC(table, 'file'));
    const streamPath = tmp.write('noext2', tableToIPC(table, 'stream'));
    const jsonlPath = tmp.write('x.ndjson', '{"a":1}\n');
    for (const p of [arrowPath, streamPath, jsonlPath]) {
      const reader = await openSource(p);
      expect(reader.numRows).toBe(p === jsonlPath ? 1 : 9);
      await reader.close();
    }
  });

  it('rejects an unknown format naming the file', async () => {
    const csv = tmp.write('data.csv', 'a,b\n1,2\n');
    await expect(openSource(csv)).rejects.toThrow(
      `unknown data format for ${csv} (extension '.csv', contents not recognised); expected one of jsonl, parquet, arrow`,
    );
    await expect(openSource(csv, { format: 'xlsx' })).rejects.toThrow(
      `unknown data format 'xlsx' for ${csv}; expected one of jsonl, parquet, arrow`,
    );
  });
});

describe('fromArrow', () => {
  it('reads an in-memory table batch by batch, skipping empty batches', async () => {
    const reader = fromArrow(new Table([batch(0, 2), batch(2, 0), batch(2, 3)]));
    expect(reader.blockRows).toEqual([2, 3]);
    const rows = await lastValueFrom(readRows(reader, { shuffle: false }).pipe(toArray()));
    expect(rows.map((r) => [r.row, r.data.prompt_id])).toEqual([
      [0, 0],
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 4],
    ]);
    expect(() => fromArrow([batch(0, 0)])).toThrow(/in-memory Arrow table is empty/);
  });
});
