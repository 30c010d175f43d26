import { z } from 'zod';
import { ARCHITECTURES, LoraConfigSchema, PRESETS } from '@rxrl/model';
import { LrScheduleSchema, OptimizerConfigSchema } from '@rxrl/optimizer';
import { onNonFiniteSchema } from '@rxrl/pipeline';

/** `policy.init`: a fresh random model instead of a pretrained directory. */
export const policyInitSchema = z
  .object({
    /** architecture (HF model_type) of the fresh model */
    arch: z.enum(ARCHITECTURES).default('llama'),
    /** size preset the config starts from (see @rxrl/model presetHfConfig) */
    preset: z.enum(PRESETS).default('tiny'),
    /** HF config.json keys that replace the preset's (e.g. hidden_size, num_hidden_layers) */
    config_overrides: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

/** The `policy` section (NeMo RL key names) shared by SFT, DPO and GRPO. */
export const policySchema = z
  .object({
    /** Hugging Face model directory to start from; null: a fresh model from `init` */
    model_name: z.string().min(1).nullable().default(null),
    /** tokenizer: `builtin` (the @rxrl/data character tokenizer) or a directory with tokenizer.json; null: the model directory's */
    tokenizer: z
      .object({ name: z.string().min(1).nullable().default(null) })
      .strict()
      .prefault({}),
    /** fresh-model settings, used when `model_name` is null */
    init: policyInitSchema.nullable().default(null),
    /**
     * LoRA adapters with PEFT's names (`r`, `lora_alpha`, `lora_dropout`, `target_modules`,
     * `bias`, `use_rslora`): only the adapters train, the base weights stay frozen and are
     * stored once (the reference policy is the base with adapters off); null: full fine-tuning
     */
    lora: LoraConfigSchema.nullable().default(null),
    /** sequences (prompt + response) per optimizer step */
    train_global_batch_size: z.number().int().positive().default(32),
    /** sequences per forward/backward pass; gradients accumulate over global/micro passes */
    train_micro_batch_size: z.number().int().positive().default(8),
    /** longest sequence in tokens; longer examples follow `data.truncation` */
    max_total_sequence_length: z.number().int().positive().default(512),
    /**
     * recompute each decoder layer's activations in the backward pass: less memory, one more
     * forward per layer; `auto`: only when the run's memory estimate with every activation kept
     * exceeds 80% of what the backend can hold here (see chooseActivationCheckpointing)
     */
    activation_checkpointing: z.union([z.boolean(), z.literal('auto')]).default('auto'),
    /** rows (tokens) of `[rows, vocab]` logits formed at a time for log-probs (NeMo RL); null: ≤ 64 MiB per chunk */
    logprob_chunk_size: z.number().int().positive().nullable().default(null),
    /** global gradient-norm clip; null: no clipping (the norm is still logged) */
    max_grad_norm: z.number().positive().nullable().default(1.0),
    /** torch-style optimizer, e.g. { name: torch.optim.AdamW, kwargs: { lr: 1e-4, weight_decay: 0.01 } } */
    optimizer: OptimizerConfigSchema.default({
      name: 'torch.optim.AdamW',
      kwargs: { lr: 1e-4, weight_decay: 0.01 },
    }),
    /** learning-rate schedule: a built-in one or NeMo RL's list of torch schedulers */
    scheduler: LrScheduleSchema.default({ name: 'constant' }),
    /** a NaN/Inf loss or gradient norm: `stop` checkpoints the last good step and exits 1; `skip_step` drops that update and goes on */
    on_nonfinite: onNonFiniteSchema.default('stop'),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.model_name === null && p.init === null) {
      ctx.addIssue({
        code: 'custom',
        path: ['model_name'],
        message: 'give a model directory in policy.model_name or a fresh model in policy.init',
      });
    }
    if (p.train_global_batch_size % p.train_micro_batch_size !== 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['train_global_batch_size'],
        message: `train_global_batch_size (${p.train_global_batch_size}) must be a multiple of train_micro_batch_size (${p.train_micro_batch_size})`,
      });
    }
  });
export type PolicyOptions = z.infer<typeof policySchema>;
export type PolicyOptionsInput = z.input<typeof policySchema>;
