import { z } from 'zod';
import { PreferenceTokenizeOptions } from '@rxrl/data';
import { dpoLossOptionsSchema, preferenceObjectiveSchema } from '@rxrl/loss';
import { datasetShape } from '../shared/datasetSchema';

const lossShape = dpoLossOptionsSchema.shape;

/** The `dpo` section: NeMo RL's loop and loss keys, plus TRL's loss variants passed through to `dpoLoss`. */
export const dpoSchema = z
  .object({
    /** stop after this many optimizer steps */
    max_num_steps: z.number().int().positive().default(150),
    /** stop after this many passes over the training pairs */
    max_num_epochs: z.number().int().positive().default(1),
    /** validate every N steps (0: only at the end) */
    val_period: z.number().int().nonnegative().default(25),
    /** held-out batches per validation (null: every held-out pair) */
    val_batches: z.number().int().positive().nullable().default(null),
    /** held-out pairs per validation batch */
    val_global_batch_size: z.number().int().positive().default(64),
    /** held-out pairs per forward pass */
    val_micro_batch_size: z.number().int().positive().default(32),
    /** validate before the first step */
    val_at_start: z.boolean().default(true),
    ...lossShape,
    /** train with another preference objective instead of dpoLoss: `{ name: orpo | cpo | kto, ...its TRL options }`; null is DPO with the keys above */
    objective: preferenceObjectiveSchema.nullable().default(null),
  })
  .strict()
  .superRefine(checkDpoLossKeys);
export type DpoOptions = z.infer<typeof dpoSchema>;

/**
 * dpoLoss's own checks (one `loss_weights` entry per `loss_type`, β > 0 for ipo) on the
 * loss keys of `o` (the `dpo` section, or a `loss.dpo` graph node's options).
 */
export function checkDpoLossKeys(o: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const loss = dpoLossOptionsSchema.safeParse(dpoLossOptionsOf(o));
  if (!loss.success)
    for (const issue of loss.error.issues)
      ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
}

/** The `dpoLoss` options inside a `dpo` section. */
export function dpoLossOptionsOf(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(lossShape).map((k) => [k, o[k]]));
}

/** The DPO `data` section: dataset, preference row format and truncation (length limit: policy.max_total_sequence_length). */
export const dpoDataSchema = PreferenceTokenizeOptions.omit({ max_length: true })
  .extend(datasetShape)
  .strict();
export type DpoDataOptions = z.infer<typeof dpoDataSchema>;
