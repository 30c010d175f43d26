import { z } from 'zod';

/** `seed`: the seed of every random choice in a run (init, shuffling, sampling). */
export const seedSchema = z.int().min(0).max(0xffffffff).default(42);

/** `logger`: where a run writes its outputs. */
export const loggerSchema = z
  .object({
    /** the run directory (config.yaml, metrics, checkpoints); null: runs/<algorithm>-<timestamp>. `--run-dir` wins. */
    log_dir: z.string().min(1).nullable().default(null),
  })
  .strict()
  .prefault({});
