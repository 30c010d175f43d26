import { describe, expect, it } from 'vitest';
import { shardRows, sliceRows, type TrainBatch } from './trainBatch';
import { ParamLayout, partRange, variableOwners } from './paramLayout';

const batch: TrainBatch = {
  rows: 5,
  columns: {
    ids: Int32Array.from({ length: 15 }, (_, i) => i),
    weight: Float32Array.from([1, 2, 3, 4, 5]),
  },
  globals: { global_valid_toks: 11 },
};

describe('shardRows', () => {
  it('splits rows into contiguous near-equal shards, copying columns and globals', () => {
    const [a, b] = shardRows(batch, 2);
    expect(a!.rows).toBe(2);
    expect([...a!.columns['ids']!]).toEqual([0, 1, 2, 3, 4, 5]);
    expect([...a!.columns['weight']!]).toEqual([1, 2]);
    expect(b!.rows).toBe(3);
    expect([...b!.columns['ids']!]).toEqual([6, 7, 8, 9, 10, 11, 12, 13, 14]);
    expect([...b!.columns['weight']!]).toEqual([3, 4, 5]);
    expect(b!.globals).toEqual({ global_valid_toks: 11 });
    // a copy: its buffer holds only its rows, so postMessage clones no more
    expect(b!.columns['ids']!.buffer.byteLength).toBe(9 * 4);
  });

  it('gives empty shards when there are more workers than rows', () => {
    const shards = shardRows(sliceRows(batch, 0, 1), 3);
    expect(shards.map((s) => s.rows)).toEqual([0, 0, 1]);
    expect(shards[0]!.columns['ids']!.length).toBe(0);
  });

  it('rejects a column that is not rows × width, naming it', () => {
    const bad: TrainBatch = { rows: 2, columns: { mask: new Float32Array(5) } };
    expect(() => shardRows(bad, 2)).toThrow(
      /column 'mask' has 5 elements, not a multiple of rows=2/,
    );
  });
});

describe('ParamLayout', () => {
  it('places variables back to back and names the first mismatch between replicas', () => {
    const l = new ParamLayout([
      { name: 'a', shape: [2, 3] },
      { name: 'b', shape: [4] },
    ]);
    expect(l.slots.map((s) => [s.offset, s.size])).toEqual([
      [0, 6],
      [6, 4],
    ]);
    expect(l.total).toBe(10);
    expect(() =>
      l.assertSame(
        new ParamLayout([
          { name: 'a', shape: [2, 3] },
          { name: 'b', shape: [5] },
        ]),
        'worker 1',
      ),
    ).toThrow(/worker 1: parameter 1 is b \[5\], expected b \[4\]/);
  });

  it('partRange covers 0..n exactly once', () => {
    expect([0, 1, 2].map((i) => partRange(10, 3, i))).toEqual([
      [0, 3],
      [3, 6],
      [6, 10],
    ]);
  });
});

describe('variableOwners', () => {
  it('gives the largest variables to the least-loaded worker', () => {
    const l = new ParamLayout([
      { name: 'e', shape: [10] },
      { name: 'n', shape: [2] },
      { name: 'h', shape: [9] },
      { name: 'b', shape: [3] },
    ]);
    // sizes 10, 9, 3, 2 → w0 gets 10, w1 9, then 3 to w1 (9 < 10), then 2 to w0 (10 < 12)
    expect(Object.fromEntries(variableOwners(l, 2))).toEqual({ e: 0, h: 1, b: 1, n: 0 });
    expect([...variableOwners(l, 1).values()]).toEqual([0, 0, 0, 0]);
  });
});
