import { z } from 'zod';

/** The dataset spec of the built-in arithmetic task, in every algorithm's `data.dataset_name`. */
export const BUILTIN_ARITHMETIC = 'builtin:arithmetic';

/** Dataset keys shared by the SFT and DPO `data` sections. */
export const datasetShape = {
  /** `builtin:arithmetic`, or a JSONL / Parquet / Arrow IPC file of rows */
  dataset_name: z.string().min(1).default(BUILTIN_ARITHMETIC),
  /** held-out rows file; null: the built-in validation split, or the last `val_fraction` of the file */
  val_data_path: z.string().min(1).nullable().default(null),
  /** share of a file dataset held out for validation when `val_data_path` is null */
  val_fraction: z.number().gt(0).lt(1).default(0.05),
  /** options of the built-in arithmetic task (operands, digits, operators, seed, ...) */
  arithmetic: z.record(z.string(), z.unknown()).default({}),
  /** built-in task: number of training rows */
  num_train_examples: z.number().int().positive().default(20000),
  /** built-in task: number of held-out rows */
  num_val_examples: z.number().int().positive().default(256),
  /** reshuffle the training rows every epoch */
  shuffle: z.boolean().default(true),
  /** file datasets: skip (and count, as `train/data/skipped_invalid`) rows that are malformed or miss a field instead of failing the run */
  skip_invalid: z.boolean().default(false),
};
