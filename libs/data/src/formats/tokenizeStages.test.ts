import { describe, expect, it } from 'vitest';
import { lastValueFrom, toArray } from 'rxjs';
import {
  RxrlDataError,
  readInt32Column,
  readFloat32Column,
  readListColumn,
  getColumn,
} from '@rxrl/core/base';
import { BuiltinTokenizer } from '../tokenizer/builtinTokenizer';
import { batchRows } from '../sources/batchRows';
import { fromRows } from '../sources/memory';
import { readRows } from '../sources/readRows';
import { batchCursor } from '../sources/rowsToRecordBatch';
import { SkipStats } from '../sources/skipStats';
import { addStats, emptyStats } from './truncation';
import { tokenizeGrpo, tokenizePreference, tokenizeSft } from './tokenizeStages';

const tok = new BuiltinTokenizer();
const c = (s: string) => Array.from(s, (ch) => 8 + ch.charCodeAt(0) - 0x20);
const rowsOf = (flat: { values: ArrayLike<number>; offsets: Int32Array }) =>
  Array.from({ length: flat.offsets.length - 1 }, (_, i) =>
    Array.from(flat.values).slice(flat.offsets[i], flat.offsets[i + 1]),
  );

describe('tokenising stages', () => {
  it('tokenizeSft: record batches with the DESIGN.md columns, cursor kept, stats reported', async () => {
    const data = [
      { prompt: '1+1=', completion: '2' },
      { prompt: '2+2=', completion: '4' },
      { prompt: '100000+1=', completion: '100001' },
    ];
    let stats = emptyStats();
    const batches = await lastValueFrom(
      readRows(fromRows(data), { shuffle: false }).pipe(
        batchRows(2),
        tokenizeSft(
          tok,
          { max_length: 8, truncation: 'drop' },
          { onStats: (s) => (stats = addStats(stats, s)) },
        ),
        toArray(),
      ),
    );
    // The second batch holds only the over-length row: dropped, so not emitted.
    expect(batches).toHaveLength(1);
    const b = batches[0]!;
    expect(Array.from(readInt32Column(b, 'prompt_id'))).toEqual([0, 1]);
    expect(rowsOf(readListColumn(b, 'input_tokens', 'int32'))).toEqual([
      [1, ...c('1+1='), ...c('2'), 2],
      [1, ...c('2+2='), ...c('4'), 2],
    ]);
    expect(rowsOf(readListColumn(b, 'loss_mask', 'uint8'))).toEqual([
      [0, 0, 0, 0, 0, 1, 1],
      [0, 0, 0, 0, 0, 1, 1],
    ]);
    expect(getColumn(b, 'loss_mask').type.toString()).toBe('List<Uint8>');
    expect(Array.from(readFloat32Column(b, 'sample_mask'))).toEqual([1, 1]);
    expect(batchCursor(b)).toBeDefined();
    expect(stats).toMatchObject({ rows: 3, emitted: 2, dropped: 1 });
  });

  it('skip_invalid: a bad row is counted with its location and field, the rest go through', async () => {
    const skip = new SkipStats();
    let invalid = 0;
    const batches = await lastValueFrom(
      readRows(
        fromRows(
          [
            { prompt: '1=', chosen: '1', rejected: '2' },
            { prompt: '2=', chosen: 2, rejected: '3' },
          ],
          { name: 'pairs' },
        ),
        {
          shuffle: false,
        },
      ).pipe(
        batchRows(2),
        tokenizePreference(
          tok,
          {},
          { skip_invalid: true, skipStats: skip, onStats: (s) => (invalid += s.invalid) },
        ),
        toArray(),
      ),
    );
    expect(batches[0]!.numRows).toBe(1);
    expect(rowsOf(readListColumn(batches[0]!, 'rejected_tokens', 'int32'))).toEqual([
      [...c('2'), 2],
    ]);
    expect(invalid).toBe(1);
    expect(skip.skipped).toBe(1);
    expect(skip.examples[0]!.message).toBe(
      'row 1 of pairs: field "chosen" must be a string or a message list, got a number',
    );
    expect(skip.examples[0]!.location).toMatchObject({ source: 'pairs', row: 1, field: 'chosen' });
    // Without skip_invalid the same row fails the stream with the located error.
    const failing = lastValueFrom(
      readRows(fromRows([{ prompt: '2=', chosen: 2, rejected: '3' }], { name: 'pairs' }), {
        shuffle: false,
      }).pipe(batchRows(1), tokenizePreference(tok)),
    );
    await expect(failing).rejects.toThrow(RxrlDataError);
  });

  it('tokenizeGrpo carries extra columns and writes prompt_text / answer', async () => {
    const [b] = await lastValueFrom(
      readRows(
        fromRows([
          { prompt: '3*3=', answer: 9, level: 2 },
          { prompt: '1-4=', answer: '-3', level: 1 },
        ]),
        { shuffle: false },
      ).pipe(batchRows(2), tokenizeGrpo(tok), toArray()),
    );
    expect(b!.schema.fields.map((f) => f.name)).toEqual([
      'prompt_id',
      'prompt_tokens',
      'prompt_text',
      'answer',
      'sample_mask',
      'level',
    ]);
    expect(rowsOf(readListColumn(b!, 'prompt_tokens', 'int32'))).toEqual([
      [1, ...c('3*3=')],
      [1, ...c('1-4=')],
    ]);
    expect(getColumn(b!, 'prompt_text').toArray()).toEqual(['3*3=', '1-4=']);
    expect(getColumn(b!, 'answer').toArray()).toEqual(['9', '-3']);
    expect(Array.from(readInt32Column(b!, 'level'))).toEqual([2, 1]);
  });
});
