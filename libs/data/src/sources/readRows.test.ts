import { describe, expect, it } from 'vitest';
import { lastValueFrom, take, toArray } from 'rxjs';
import { RxrlConfigError } from '@rxrl/core/base';
import { fromRows } from './memory';
import { readRows, type ReadRowsOptions } from './readRows';
import type { DataCursor } from './cursor';

const N = 23;
const data = Array.from({ length: N }, (_, i) => ({ i }));
const ids = async (opts: ReadRowsOptions, blockRows = 5, limit?: number) => {
  let rows$ = readRows(fromRows(data, { block_rows: blockRows }), opts);
  if (limit !== undefined) rows$ = rows$.pipe(take(limit));
  const rows = await lastValueFrom(rows$.pipe(toArray()));
  return { ids: rows.map((r) => r.data.i as number), cursors: rows.map((r) => r.cursor!) };
};
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('readRows order', () => {
  it('reads in file order without shuffling', async () => {
    expect((await ids({ shuffle: false, num_epochs: 2 })).ids).toEqual([...range(N), ...range(N)]);
  });

  it('shuffles each epoch into a different permutation, the same for the same seed', async () => {
    const a = (await ids({ seed: 3, num_epochs: 2 })).ids;
    const b = (await ids({ seed: 3, num_epochs: 2 })).ids;
    const c = (await ids({ seed: 4, num_epochs: 2 })).ids;
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    const [e0, e1] = [a.slice(0, N), a.slice(N)];
    expect(sorted(e0)).toEqual(range(N));
    expect(sorted(e1)).toEqual(range(N));
    expect(e0).not.toEqual(e1);
    expect(e0).not.toEqual(range(N));
  });

  it('shuffles fully when all rows are one block', async () => {
    // with one block, rows from the start and the end of the data mix in the first half
    const first = (await ids({ seed: 1 }, N)).ids.slice(0, 12);
    expect(first.some((i) => i >= 12)).toBe(true);
  });
});

describe('readRows cursor', () => {
  it('resumes exactly where it stopped, at every k, across epoch boundaries', async () => {
    const opts = { seed: 9, num_epochs: 3 };
    const full = await ids(opts);
    expect(full.ids.length).toBe(3 * N);
    expect(full.cursors[N - 1]).toEqual({ epoch: 1, index: 0, seed: 9 });
    for (const k of [1, 4, 5, 6, 22, 23, 24, 40, 3 * N - 1]) {
      const head = await ids(opts, 5, k);
      const saved: DataCursor = JSON.parse(JSON.stringify(head.cursors[k - 1]));
      const rest = await ids({ ...opts, cursor: saved });
      expect([...head.ids, ...rest.ids]).toEqual(full.ids);
    }
    const end = full.cursors[3 * N - 1]!;
    expect((await ids({ ...opts, cursor: end })).ids).toEqual([]);
  });

  it('refuses a cursor taken with another seed or past the data', () => {
    const reader = fromRows(data);
    expect(() => readRows(reader, { seed: 1, cursor: { epoch: 0, index: 3, seed: 2 } })).toThrow(
      RxrlConfigError,
    );
    expect(() => readRows(reader, { cursor: { epoch: 0, index: N + 1, seed: 42 } })).toThrow(
      /past the 23 rows/,
    );
    expect(() => readRows(reader, { num_shards: 2, shard_index: 2 })).toThrow(
      /data.shard_index: shard_index must be less/,
    );
  });
});

describe('readRows sharding', () => {
  it('splits each epoch into disjoint shards that cover it, interleaving the global order', async () => {
    const full = (await ids({ seed: 5 })).ids;
    const shards = await Promise.all(
      [0, 1, 2].map((w) => ids({ seed: 5, num_shards: 3, shard_index: w })),
    );
    const union = shards.flatMap((s) => s.ids);
    expect(sorted(union)).toEqual(range(N));
    expect(shards.map((s) => s.ids.length)).toEqual([8, 8, 7]);
    shards.forEach((s, w) => expect(s.ids).toEqual(full.filter((_, p) => p % 3 === w)));
  });

  it('resumes a shard from its own cursor', async () => {
    const opts = { seed: 2, num_epochs: 2, num_shards: 2, shard_index: 1 };
    const full = await ids(opts);
    const head = await ids(opts, 5, 7);
    const rest = await ids({ ...opts, cursor: head.cursors[6] });
    expect([...head.ids, ...rest.ids]).toEqual(full.ids);
  });

  it('skips whole blocks on resume without reading them', async () => {
    const reader = fromRows(data, { block_rows: 5 });
    const reads: number[] = [];
    const readBlock = reader.readBlock.bind(reader);
    reader.readBlock = (b, w) => (reads.push(b), readBlock(b, w));
    await lastValueFrom(
      readRows(reader, { shuffle: false, cursor: { epoch: 0, index: 12, seed: 42 } }).pipe(
        toArray(),
      ),
    );
    expect(reads).toEqual([2, 3, 4]);
  });
});
