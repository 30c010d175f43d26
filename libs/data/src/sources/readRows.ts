import { Observable } from 'rxjs';
import { z } from 'zod';
import { Rng, RxrlConfigError } from '@rxrl/core/base';
import type { BlockReader } from './blockReader';
import { dataCursorSchema } from './cursor';
import { checkFields, type FieldSpec } from './fields';
import { isInvalid, type DataRow } from './row';
import { SkipStats } from './skipStats';

/** Options of `readRows`: order, epochs, sharding, resumption and invalid-row handling. */
export const readRowsOptionsSchema = z
  .object({
    /** Shuffle each epoch: blocks in a seeded random order, rows in a seeded random order within each block. */
    shuffle: z.boolean().default(true),
    /** Seed of the shuffle; the same seed gives the same order on every machine. */
    seed: z.number().int().default(42),
    /** Passes over the data. */
    num_epochs: z.number().int().positive().default(1),
    /** Number of workers the data is split between (each gets every `num_shards`-th position). */
    num_shards: z.number().int().positive().default(1),
    /** This worker's shard, in [0, num_shards). */
    shard_index: z.number().int().nonnegative().default(0),
    /** Skip (and count) rows that are malformed or miss a field instead of failing the run. */
    skip_invalid: z.boolean().default(false),
    /** Resume after the row this cursor was taken from. */
    cursor: dataCursorSchema.optional(),
  })
  .refine((o) => o.shard_index < o.num_shards, {
    message: 'shard_index must be less than num_shards',
    path: ['shard_index'],
  });

export type ReadRowsOptions = z.input<typeof readRowsOptionsSchema> & {
  /** Required fields and their types, checked on every row (`missing_field` / `wrong_type`). */
  fields?: FieldSpec;
  /** Where skipped rows are counted; pass one in to report it as metrics. */
  stats?: SkipStats;
};

/** Order of the rows of epoch `epoch`: blocks and the in-block permutation of each, both from the seed. */
export function epochOrder(
  blockRows: readonly number[],
  seed: number,
  epoch: number,
  shuffle: boolean,
) {
  const root = new Rng(seed).fork(`epoch/${epoch}`);
  const blocks = shuffle
    ? root.permutation(blockRows.length)
    : Int32Array.from(blockRows, (_, i) => i);
  const rowsOf = (block: number): Int32Array =>
    shuffle
      ? root.fork(`block/${block}`).permutation(blockRows[block]!)
      : Int32Array.from({ length: blockRows[block]! }, (_, i) => i);
  return { blocks, rowsOf };
}

/**
 * The rows of a source as a cold, pull-based Observable: one block is read,
 * emitted row by row, and the next is read only after the subscriber has
 * taken those, so a big file is never loaded at once. Each row carries the
 * `cursor` that resumes the stream right after it.
 *
 * Invalid rows throw an `RxrlDataError` naming file, line/row and field, or
 * with `skip_invalid` are counted in `stats` (never silently dropped).
 *
 * @example
 * const rows$ = readRows(await openJsonl('train.jsonl'), { seed: 1, num_epochs: 2, fields: { prompt: 'string' } });
 */
export function readRows(reader: BlockReader, options: ReadRowsOptions = {}): Observable<DataRow> {
  const parsed = readRowsOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new RxrlConfigError(`data.${issue.path.join('.')}: ${issue.message}`);
  }
  const opts = parsed.data;
  const { fields } = options;
  const stats = options.stats ?? new SkipStats();
  const cursor = opts.cursor ?? { epoch: 0, index: 0, seed: opts.seed };
  if (cursor.seed !== opts.seed) {
    throw new RxrlConfigError(
      `data cursor was taken with seed ${cursor.seed} but data.seed is ${opts.seed}; resuming needs the same seed`,
    );
  }
  if (cursor.index > reader.numRows) {
    throw new RxrlConfigError(
      `data cursor index ${cursor.index} is past the ${reader.numRows} rows of ${reader.source}`,
    );
  }
  const W = opts.num_shards;
  const w = opts.shard_index;

  return new Observable<DataRow>((subscriber) => {
    let stopped = false;
    (async () => {
      for (let epoch = cursor.epoch; epoch < opts.num_epochs && !stopped; epoch++) {
        const order = epochOrder(reader.blockRows, opts.seed, epoch, opts.shuffle);
        const from = epoch === cursor.epoch ? cursor.index : 0;
        let pos = 0; // global position of the current block's first row in this epoch's order
        for (const block of order.blocks) {
          const size = reader.blockRows[block]!;
          const end = pos + size;
          if (end <= from) {
            pos = end;
            continue; // resumed past this block: not read at all
          }
          // positions of this block that are ours and not yet consumed
          const perm = order.rowsOf(block);
          const mine: number[] = [];
          for (let i = Math.max(from - pos, 0); i < size; i++)
            if ((pos + i) % W === w) mine.push(i);
          if (mine.length > 0) {
            const wanted = Int32Array.from(mine, (i) => perm[i]!);
            const sorted = Int32Array.from(wanted).sort();
            const rows = await reader.readBlock(block, sorted);
            if (stopped) return;
            const byRow = new Map<number, (typeof rows)[number]>();
            for (let k = 0; k < sorted.length; k++) byRow.set(sorted[k]!, rows[k]!);
            for (let k = 0; k < mine.length; k++) {
              if (stopped) return;
              const item = byRow.get(wanted[k]!)!;
              stats.seen++;
              const bad = isInvalid(item) ? item : fields ? checkFields(item, fields) : null;
              if (bad) {
                if (!opts.skip_invalid) throw bad.error;
                stats.skip(bad.reason, bad.error);
                continue;
              }
              const row = item as DataRow;
              const next = pos + mine[k]! + 1;
              row.cursor =
                next === reader.numRows
                  ? { epoch: epoch + 1, index: 0, seed: opts.seed }
                  : { epoch, index: next, seed: opts.seed };
              subscriber.next(row);
            }
          }
          pos = end;
        }
      }
      if (!stopped) subscriber.complete();
    })().catch((err) => {
      if (!stopped) subscriber.error(err);
    });
    return () => {
      stopped = true;
    };
  });
}
