import { z } from 'zod';
import { onNonFiniteSchema } from './faults/nonFinite';

/** Early stopping on a validation metric. */
export const earlyStoppingSchema = z.strictObject({
  /** the metric watched, e.g. `validation/accuracy` (must be produced by `validate`) */
  metric: z.string().min(1),
  /** stop after this many validations without improvement */
  patience: z.int().positive(),
  /** whether larger values are better */
  higher_is_better: z.boolean().default(true),
  /** an improvement must beat the best value by more than this */
  min_delta: z.number().nonnegative().default(0),
});

/** The loop the runner owns; NeMo RL key names (`grpo.max_num_steps`, `grpo.val_period`, ...). */
export const runnerOptionsSchema = z.strictObject({
  /** stop after this many training steps in total */
  max_num_steps: z.int().positive(),
  /** stop after this many passes over the training data */
  max_num_epochs: z.int().positive().default(1),
  /** validate every N steps (at steps N, 2N, ...); 0 never */
  val_period: z.int().nonnegative().default(0),
  /** validate once before the first step (logged at step 0) */
  val_at_start: z.boolean().default(false),
  /** validate after the last step when it was not a validation step */
  val_at_end: z.boolean().default(false),
  /** stop when a validation metric stops improving; null never */
  early_stopping: earlyStoppingSchema.nullable().default(null),
  /** a NaN/Inf loss or gradient norm: `skip_step` drops that update and goes on; `stop` checkpoints the last good step and fails */
  on_nonfinite: onNonFiniteSchema.default('stop'),
});

export type RunnerOptions = z.infer<typeof runnerOptionsSchema>;
export type RunnerOptionsInput = z.input<typeof runnerOptionsSchema>;
