// Section schemas shaped like the ones libraries will own, for the config tests.
import { z } from 'zod';
import { defineSections } from '../src/defineSections';

export const policySchema = z.strictObject({
  /** model to train */
  model_name: z.string().min(1),
  /** AdamW learning rate */
  learning_rate: z.number().gt(0).max(1).default(1e-5),
  /** global gradient-norm clip; null disables */
  max_grad_norm: z.number().positive().nullable().default(1.0),
});

export const grpoSchema = z.object({
  /** completions sampled per prompt */
  num_generations_per_prompt: z.int().min(1).max(1024).default(8),
  /** how the loss is normalised */
  loss_type: z.enum(['token', 'sequence']).default('token'),
  /** strings that end generation */
  stop_strings: z.array(z.string()).default([]),
  /** sampling temperature */
  temperature: z.number().min(0).max(2).default(1),
});

export const testSections = defineSections({
  seed: z.int().min(0).default(42),
  policy: policySchema,
  grpo: grpoSchema.prefault({}),
});
