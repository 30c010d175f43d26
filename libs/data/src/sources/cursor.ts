import { z } from 'zod';

/**
 * Where a row stream stands: `index` is the next position in epoch `epoch`'s
 * order (counted before sharding, so every shard of a run can share one
 * cursor), `seed` the shuffling seed the order came from. Saved with a
 * checkpoint, it restarts the stream exactly where it stopped.
 */
export const dataCursorSchema = z.object({
  /** 0-based epoch. */
  epoch: z.number().int().nonnegative(),
  /** Next position in the epoch's order. */
  index: z.number().int().nonnegative(),
  /** Seed of the shuffle that produced the order. */
  seed: z.number().int(),
});

export type DataCursor = z.infer<typeof dataCursorSchema>;
