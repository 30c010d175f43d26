import { describe, expect, it } from 'vitest';
import { lastValueFrom, toArray } from 'rxjs';
import { readInt32Column } from '@rxrl/core/base';
import { batchRows } from './batchRows';
import { fromRows } from './memory';
import { readRows } from './readRows';
import { batchCursor, rowsToRecordBatch, toRecordBatches } from './rowsToRecordBatch';

const rows$ = (n: number) =>
  readRows(fromRows(Array.from({ length: n }, (_, i) => ({ i }))), { shuffle: false });

describe('batchRows', () => {
  it('groups rows into fixed-size batches carrying the cursor of their last row', async () => {
    const batches = await lastValueFrom(rows$(7).pipe(batchRows(3), toArray()));
    expect(batches.map((b) => b.rows.map((r) => r.data.i))).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    expect(batches.map((b) => b.cursor)).toEqual([
      { epoch: 0, index: 3, seed: 42 },
      { epoch: 0, index: 6, seed: 42 },
      { epoch: 1, index: 0, seed: 42 },
    ]);
    const dropped = await lastValueFrom(rows$(7).pipe(batchRows(3, true), toArray()));
    expect(dropped.map((b) => b.rows.length)).toEqual([3, 3]);
    expect(() => batchRows(0)).toThrow(/batch_size must be a positive integer, got 0/);
  });
});

describe('rowsToRecordBatch', () => {
  it('turns a row stream into record batches with their cursors', async () => {
    const batches = await lastValueFrom(rows$(5).pipe(batchRows(2), toRecordBatches(), toArray()));
    expect(batches.map((b) => Array.from(readInt32Column(b, 'i')))).toEqual([[0, 1], [2, 3], [4]]);
    expect(batches.map((b) => batchCursor(b)!.index)).toEqual([2, 4, 0]);
  });

  it('infers Int32, Float64, Utf8, Bool and list columns and carries the cursor', () => {
    const rows = [
      {
        source: 's',
        row: 0,
        data: { id: 1, x: 0.5, s: 'é✓𝄞', ok: true, toks: [1, 2] },
        cursor: { epoch: 0, index: 1, seed: 1 },
      },
      {
        source: 's',
        row: 1,
        data: { id: 2, x: 2, s: 'b', ok: false, toks: [3] },
        cursor: { epoch: 0, index: 2, seed: 1 },
      },
    ];
    const batch = rowsToRecordBatch(rows);
    expect(batch.schema.fields.map((f) => `${f.name}:${f.type}`)).toEqual([
      'id:Int32',
      'x:Float64',
      's:Utf8',
      'ok:Bool',
      'toks:List<Float64>',
    ]);
    expect(Array.from(readInt32Column(batch, 'id'))).toEqual([1, 2]);
    expect(batch.getChild('x')!.toArray()).toEqual(Float64Array.of(0.5, 2));
    expect(batch.getChild('s')!.toArray()).toEqual(['é✓𝄞', 'b']);
    expect(batchCursor(batch)).toEqual({ epoch: 0, index: 2, seed: 1 });
    expect(rowsToRecordBatch(rows, ['s']).schema.fields.map((f) => f.name)).toEqual(['s']);
    const mixed = [rows[0]!, { ...rows[1]!, data: { id: 'two' } }];
    expect(() => rowsToRecordBatch(mixed, ['id'])).toThrow(
      /column 'id' mixes types \(number at row 0 of s, string at row 1 of s\)/,
    );
  });
});
