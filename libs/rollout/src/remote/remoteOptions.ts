import { z } from 'zod';

/**
 * Options of `rollout.remote`: the connection (the `openai` client's names),
 * the robustness knobs, and the same sampling options as `rollout.generate`.
 */
export const remoteOptionsSchema = z
  .object({
    /** The server's OpenAI base URL, with its `/v1` (e.g. `http://127.0.0.1:8000/v1`); the stage POSTs to `${base_url}/completions`. */
    base_url: z.string().url(),
    /** Model name the server serves (vLLM's `--served-model-name`, `rxrl serve --served-model-name`). */
    model: z.string().min(1),
    /** Sent as `Authorization: Bearer <api_key>`; null sends none. */
    api_key: z.string().nullable().default(null),
    /** Requests in flight at once (one request per prompt, asking for `n` completions). */
    max_concurrency: z.number().int().min(1).default(8),
    /** Per-attempt limit in milliseconds; an attempt that takes longer is aborted and retried. */
    timeout_ms: z.number().int().min(1).default(600_000),
    /** Retries after the first attempt, on connection errors, timeouts, 429 and 5xx; other 4xx fail at once. */
    max_retries: z.number().int().min(0).default(5),
    /** Wait before the first retry; doubles per retry (with ±20% jitter) up to `max_backoff_ms`. */
    retry_backoff_ms: z.number().int().min(0).default(500),
    /** Longest wait between retries. */
    max_backoff_ms: z.number().int().min(0).default(30_000),
    /**
     * How completion token ids come back: `return_tokens_as_token_ids` asks the
     * server for logprob tokens as `token_id:<id>` (rxrl serve, vLLM); `retokenize`
     * encodes the returned text with the stage's tokenizer (llama.cpp server and
     * others), which fails clearly when that does not give one id per log-prob.
     */
    completion_token_ids: z
      .enum(['return_tokens_as_token_ids', 'retokenize'])
      .default('return_tokens_as_token_ids'),
    /** Softmax temperature; 0 = greedy. */
    temperature: z.number().min(0).default(1),
    /** Nucleus sampling mass; 1 disables. */
    top_p: z.number().gt(0).max(1).default(1),
    /** Keep the k most likely tokens; null, -1 or 0 disables (sent only when set). */
    top_k: z.number().int().min(-1).nullable().default(null),
    /** Drop tokens below min_p times the top probability; 0 disables (sent only when > 0). */
    min_p: z.number().min(0).max(1).default(0),
    /** Most tokens generated per sample (the request's `max_tokens`). */
    max_new_tokens: z.number().int().min(1).default(256),
    /** Extra token ids that end a sample (vLLM's `stop_token_ids`). */
    stop_token_ids: z.array(z.number().int().min(0)).nullable().default(null),
    /** Strings that end a sample (the request's `stop`). */
    stop_strings: z.array(z.string().min(1)).default([]),
    /** Keep the matched stop string in completion_text (vLLM's include_stop_str_in_output). */
    include_stop_str_in_output: z.boolean().default(false),
    /** Do not stop on EOS (vLLM's ignore_eos). */
    ignore_eos: z.boolean().default(false),
    /** Samples per prompt (the request's `n`; GRPO's group size). */
    num_generations_per_prompt: z.number().int().min(1).default(1),
    /** Base seed; each prompt's request gets a seed derived from it and the prompt's group id, so a retry or a re-run repeats it. null = unseeded. */
    seed: z.number().int().nullable().default(null),
    /** Extra fields merged into every request body (server-specific options). */
    extra_body: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

/** Validated options (defaults filled in). */
export type RemoteOptions = z.infer<typeof remoteOptionsSchema>;
/** Options as a user writes them. */
export type RemoteOptionsInput = z.input<typeof remoteOptionsSchema>;
