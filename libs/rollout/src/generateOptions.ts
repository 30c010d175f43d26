import { z } from 'zod';

/**
 * Options of local generation, named as in NeMo RL's `policy.generation` and
 * vLLM's `SamplingParams`. Defaults live here.
 */
export const generateOptionsSchema = z
  .object({
    /** Softmax temperature; 0 = greedy decoding. */
    temperature: z.number().min(0).default(1),
    /** Nucleus sampling: keep the smallest most-likely set reaching this probability; 1 disables. */
    top_p: z.number().gt(0).max(1).default(1),
    /** Keep only the k most likely tokens; null, -1 or 0 disables (vLLM uses -1). */
    top_k: z.number().int().min(-1).nullable().default(null),
    /** Drop tokens less likely than min_p times the most likely token; 0 disables. */
    min_p: z.number().min(0).max(1).default(0),
    /** Most tokens generated per sample; a sample that reaches it ends with finish_reason 'length'. */
    max_new_tokens: z.number().int().min(1).default(256),
    /** Extra token ids that end a sample (kept as its last token); the tokenizer's EOS always stops unless ignore_eos. */
    stop_token_ids: z.array(z.number().int().min(0)).nullable().default(null),
    /** Strings that end a sample when they appear in its decoded text; the text is cut before them. */
    stop_strings: z.array(z.string().min(1)).default([]),
    /** Keep the matched stop string at the end of completion_text (vLLM's include_stop_str_in_output). */
    include_stop_str_in_output: z.boolean().default(false),
    /** Do not stop on the tokenizer's EOS token (vLLM's ignore_eos). */
    ignore_eos: z.boolean().default(false),
    /** Samples per prompt (GRPO's group size). */
    num_generations_per_prompt: z.number().int().min(1).default(1),
    /** Seed of the sampling RNG; each sample draws from its own fork, keyed by prompt and generation index. */
    seed: z.number().int().default(0),
    /** Rows (prompts × generations) decoded together in one batched forward pass. */
    generation_batch_size: z.number().int().min(1).default(32),
  })
  .strict();

/** Validated generation options (defaults filled in). */
export type GenerateOptions = z.infer<typeof generateOptionsSchema>;
/** Generation options as a user writes them (every key optional). */
export type GenerateOptionsInput = z.input<typeof generateOptionsSchema>;
