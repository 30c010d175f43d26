import { describe, expect, it } from 'vitest';
import type { RecordBatch } from 'apache-arrow';
import { listVectorFromRows, makeRecordBatch } from '@rxrl/core/base';
import { generationRequestOf, prefetchingSource } from './prefetchingSource';

const batch = (i: number) => ({ i }) as unknown as RecordBatch;

describe('prefetchingSource', () => {
  it('yields the source batches in order and hands each to `ahead` depth batches before it is taken', async () => {
    const source = {
      *batches(epoch: number, position: number) {
        for (let b = position; b < 6; b++) yield batch(epoch * 100 + b);
      },
    };
    for (const depth of [1, 2]) {
      const log: string[] = [];
      const it = prefetchingSource(
        source,
        (b) => log.push(`ahead ${(b as unknown as { i: number }).i}`),
        depth,
      );
      for await (const b of it.batches(1, 2)) log.push(`take ${(b as unknown as { i: number }).i}`);
      const expected =
        depth === 1
          ? [
              'ahead 102',
              'ahead 103',
              'take 102',
              'ahead 104',
              'take 103',
              'ahead 105',
              'take 104',
              'take 105',
            ]
          : [
              'ahead 102',
              'ahead 103',
              'ahead 104',
              'take 102',
              'ahead 105',
              'take 103',
              'take 104',
              'take 105',
            ];
      expect(log).toEqual(expected);
    }
  });

  it('names the prompts and group keys as rollout.generate does (a repeated prompt_id gets id#k)', () => {
    const b = makeRecordBatch({
      prompt_tokens: listVectorFromRows([
        [1, 5, 6],
        [1, 7],
        [1, 5, 6],
      ]),
      prompt_id: Int32Array.from([4, 9, 4]),
    });
    const r = generationRequestOf(b);
    expect(r.prompts.map((p) => Array.from(p))).toEqual([
      [1, 5, 6],
      [1, 7],
      [1, 5, 6],
    ]);
    expect(r.keys).toEqual([4, 9, '4#1']);
  });
});
