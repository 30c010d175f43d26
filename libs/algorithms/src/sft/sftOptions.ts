import { z } from 'zod';
import { SftTokenizeOptions } from '@rxrl/data';
import { datasetShape } from '../shared/datasetSchema';
import { validationRewardSchema } from '../shared/generationValidation';

/** `sft.val_generation`: the validation graph — greedy decoding of held-out prompts, scored by the reward it names (default exact match). */
export const valGenerationSchema = z
  .object({
    /** held-out prompts decoded per validation (0 disables validation/accuracy) */
    num_prompts: z.number().int().nonnegative().default(128),
    /** longest generated answer in tokens */
    max_new_tokens: z.number().int().positive().default(16),
    /** the validation graph's reward node: `validation/accuracy` where it is a verifier, else `validation/reward` */
    reward: validationRewardSchema,
  })
  .strict();

/** The `sft` section (NeMo RL key names). */
export const sftSchema = z
  .object({
    /** stop after this many optimizer steps */
    max_num_steps: z.number().int().positive().default(1000),
    /** stop after this many passes over the training set */
    max_num_epochs: z.number().int().positive().default(1),
    /** validate every N steps (0: only at the end) */
    val_period: z.number().int().nonnegative().default(100),
    /** held-out batches per validation (null: the whole validation set) */
    val_batches: z.number().int().positive().nullable().default(null),
    /** held-out sequences per validation batch */
    val_global_batch_size: z.number().int().positive().default(64),
    /** held-out sequences per forward pass */
    val_micro_batch_size: z.number().int().positive().default(32),
    /** validate before the first step */
    val_at_start: z.boolean().default(true),
    /** greedy exact-match accuracy on held-out prompts */
    val_generation: valGenerationSchema.prefault({}),
    /** training loss (TRL `SFTConfig.loss_type`): nll, or dft — dynamic fine-tuning, each token's NLL weighted by its detached probability (https://arxiv.org/abs/2508.05629); validation/loss stays the NLL */
    loss_type: z.enum(['nll', 'dft']).default('nll'),
    /** stop early when `validation/loss` has not improved for this many validations (null: never) */
    early_stopping_patience: z.number().int().positive().nullable().default(null),
  })
  .strict();
export type SftOptions = z.infer<typeof sftSchema>;

/** The SFT `data` section: dataset, row format and truncation (the length limit is policy.max_total_sequence_length). */
export const sftDataSchema = SftTokenizeOptions.omit({ max_length: true })
  .extend({
    ...datasetShape,
    /** column with the reference answer for exact-match accuracy (rows without it are not scored) */
    answer_key: z.string().default('answer'),
  })
  .strict();
export type SftDataOptions = z.infer<typeof sftDataSchema>;
