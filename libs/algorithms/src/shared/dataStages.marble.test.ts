import { describe, expect, it } from 'vitest';
import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { RecordBatch } from 'apache-arrow';
import { batchStep, COLUMNS, readListColumn, withBatchMeta } from '@rxrl/core/base';
import { ArithmeticTask, BuiltinTokenizer } from '@rxrl/data';
import { pipe } from '@rxrl/pipeline';
import {
  dataPackStage,
  dataPadStage,
  dataTokenizeStage,
  INPUT_IDS,
  rawRowsBatch,
} from './dataStages';

// Marble diagrams of the data stages: each raw batch comes out tokenised (and
// padded or packed) when it arrives, one out per one in, in order, with its step;
// an error (a sequence longer than the packed row) errors the stream; completion
// follows the source.
const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const tok = new BuiltinTokenizer();
const rows = new ArithmeticTask({ operators: ['+'], max_digits: 1, seed: 1 }).sftRows('train', 9);
const context = { services: { tokenizer: tok }, emit: () => {} };
const tokenize = dataTokenizeStage.create(
  dataTokenizeStage.schema.parse({ rows: 'sft', loss_mask: 'completion_only', max_length: 32 }),
  context,
);
const raw = (picks: number[], step: number) =>
  withBatchMeta(rawRowsBatch(rows, picks), { step, round: 0 });
const width = (b: RecordBatch) => {
  const { offsets } = readListColumn(b, INPUT_IDS, 'int32');
  return offsets[1]! - offsets[0]!;
};

describe('data.tokenize → data.pad / data.pack, as marbles', () => {
  it('data.tokenize → data.pad: one padded batch per raw batch, when it arrives, with its step', () => {
    const pad = dataPadStage.create(dataPadStage.schema.parse({ pad_to_multiple_of: 16 }), context);
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('-a--b-c|', { a: raw([0, 1, 2], 1), b: raw([3, 4], 2), c: raw([5], 3) });
      expectObservable(
        source.pipe(
          pipe(tokenize, pad),
          map((b) => `${batchStep(b)}:${b.numRows}x${width(b)}`),
        ),
      ).toBe('-A--B-C|', { A: '1:3x16', B: '2:2x16', C: '3:1x16' });
    });
  });

  it('data.tokenize → data.pack: rows packed per batch; a sequence longer than a row errors the stream', () => {
    const pack = (max_seq_len: number) =>
      dataPackStage.create(dataPackStage.schema.parse({ max_seq_len }), context);
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('-a-b|', { a: raw([0, 1, 2, 3], 1), b: raw([4, 5], 2) });
      // every arithmetic example here is 7 or 8 tokens, so two fit a row of 16
      expectObservable(
        source.pipe(
          pipe(tokenize, pack(16)),
          map((b) => b.numRows),
        ),
      ).toBe('-A-B|', { A: 2, B: 1 });
      expectObservable(source.pipe(pipe(tokenize, pack(4)))).toBe(
        '-#',
        undefined,
        expect.objectContaining({ message: expect.stringMatching(/more than max_seq_len 4/) }),
      );
    });
  });

  it('tokenises nothing before a batch arrives and completes with the source', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('---a|', { a: raw([6, 7, 8], 4) });
      expectObservable(
        source.pipe(
          tokenize,
          map((b) => readListColumn(b, COLUMNS.inputTokens, 'int32').offsets.length - 1),
        ),
      ).toBe('---A|', { A: 3 });
    });
  });
});
