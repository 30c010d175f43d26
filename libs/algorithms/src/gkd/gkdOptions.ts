import { z } from 'zod';
import { remoteOptionsSchema } from '@rxrl/rollout';
import { sftSchema } from '../sft/sftOptions';

/** `gkd.teacher`: where the teacher's next-token distributions come from. */
export const gkdTeacherSchema = z
  .object({
    /** Hugging Face model directory of the teacher (same tokenizer / vocabulary as the student); TRL `teacher_model_name_or_path` */
    model_name: z.string().min(1).nullable().default(null),
    /**
     * an OpenAI-compatible server as `rollout.remote` names it. Validated, then refused at
     * run time: GKD needs the teacher's whole next-token distribution at every position of a
     * given sequence, and the remote client only returns the sampled token's log-prob of
     * completions the server itself generates (no scoring of given text, no full vocabulary)
     */
    remote: remoteOptionsSchema.nullable().default(null),
  })
  .strict()
  .superRefine((t, ctx) => {
    if ((t.model_name === null) === (t.remote === null))
      ctx.addIssue({
        code: 'custom',
        path: ['model_name'],
        message:
          'give exactly one teacher: gkd.teacher.model_name (a local model directory) or gkd.teacher.remote',
      });
  });

/**
 * The `gkd` section: the loop keys of `sft` (steps, epochs, validation cadence and size,
 * greedy exact-match validation, early stopping) plus TRL `GKDConfig`'s distillation options.
 */
export const gkdSchema = sftSchema
  .omit({ loss_type: true })
  .extend({
    /** probability that a step trains on the student's own samples (on-policy; TRL `lmbda`), decided once per step as TRL does */
    lmbda: z.number().min(0).max(1).default(0.5),
    /** interpolation of the generalised JSD: 0 KL(teacher ‖ student), 1 KL(student ‖ teacher) (TRL `beta`) */
    beta: z.number().min(0).max(1).default(0.5),
    /** sampling temperature of on-policy / teacher generations, and the temperature both distributions are softened by in the loss (TRL `temperature`) */
    temperature: z.number().positive().default(0.9),
    /** longest sampled completion in tokens (TRL `max_new_tokens`; also capped by policy.max_total_sequence_length) */
    max_new_tokens: z.number().int().positive().default(128),
    /** sequence-level KD: off-policy steps train on the teacher's sampled completions instead of the dataset's (TRL `seq_kd`) */
    seq_kd: z.boolean().default(false),
    /** prompts sampled per forward pass when generating */
    generation_batch_size: z.number().int().positive().default(64),
    teacher: gkdTeacherSchema,
  })
  .strict();
export type GkdOptions = z.infer<typeof gkdSchema>;
export type GkdOptionsInput = z.input<typeof gkdSchema>;
