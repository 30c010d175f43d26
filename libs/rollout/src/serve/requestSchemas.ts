import { z } from 'zod';

const int = () => z.number().int();

/** Sampling fields shared by /v1/completions and /v1/chat/completions (OpenAI names, plus vLLM's extras). */
const samplingFields = {
  /** Name of the model; must be the served model name. */
  model: z.string(),
  /** Completions per prompt. */
  n: int().min(1).max(128).nullish(),
  /** Softmax temperature; 0 = greedy. */
  temperature: z.number().min(0).max(100).nullish(),
  /** Nucleus sampling mass; 1 disables. */
  top_p: z.number().gt(0).max(1).nullish(),
  /** vLLM extra: keep the k most likely tokens; -1, 0 or null disables. */
  top_k: int().min(-1).nullish(),
  /** vLLM extra: drop tokens below min_p times the top probability. */
  min_p: z.number().min(0).max(1).nullish(),
  /** Seed of the sampling RNG: the same request with the same seed gives the same completions. */
  seed: int().nullish(),
  /** Up to 4 strings (or one) that end a completion; the text is cut before them. */
  stop: z.union([z.string(), z.array(z.string()).max(16)]).nullish(),
  /** vLLM extra: token ids that end a completion. */
  stop_token_ids: z.array(int().min(0)).nullish(),
  /** vLLM extra: keep generating past EOS. */
  ignore_eos: z.boolean().nullish(),
  /** vLLM extra: keep the matched stop string in the text. */
  include_stop_str_in_output: z.boolean().nullish(),
  /** Stream server-sent events. */
  stream: z.boolean().nullish(),
  /** `include_usage`: a last chunk with token counts. */
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  /** vLLM extra: logprob tokens as `token_id:<id>` strings, so clients recover exact ids. */
  return_tokens_as_token_ids: z.boolean().nullish(),
  /** vLLM extra: add `token_ids` (and `prompt_token_ids`) to each non-streamed choice. */
  return_token_ids: z.boolean().nullish(),
  /** Not supported: only 0 is accepted. */
  presence_penalty: z.literal(0).nullish(),
  /** Not supported: only 0 is accepted. */
  frequency_penalty: z.literal(0).nullish(),
  user: z.string().nullish(),
};

/**
 * A prompt: text, texts, token ids, or lists of token ids. Only the outer
 * shape is checked here; the elements are checked after the request is
 * admitted, in slices (`readPrompts`), so a huge list cannot stall the server.
 */
const promptSchema = z.union([
  z.string(),
  // not z.array(z.unknown()): that walks every element, on the event loop
  z.custom<unknown[]>((v) => Array.isArray(v) && v.length > 0, {
    message: 'expected a string or a non-empty list',
  }),
]);

/** Body of POST /v1/completions. */
export const completionRequestSchema = z.object({
  ...samplingFields,
  prompt: promptSchema,
  /** Most new tokens per completion (OpenAI's default 16); 0 with `echo` only scores the prompt. */
  max_tokens: int().min(0).nullish(),
  /** Per token, the log-probs of this many most likely alternatives (0..20); null = no logprobs. */
  logprobs: int().min(0).max(20).nullish(),
  /** Prepend the prompt to the text (and, with logprobs, its tokens' log-probs; the first is null). */
  echo: z.boolean().nullish(),
});
export type CompletionRequest = z.infer<typeof completionRequestSchema>;

const contentPart = z.object({ type: z.literal('text'), text: z.string() });

/** Body of POST /v1/chat/completions. */
export const chatRequestSchema = z.object({
  ...samplingFields,
  messages: z
    .array(
      z.object({
        role: z.string(),
        content: z.union([z.string(), z.array(contentPart)]).nullable(),
      }),
    )
    .min(1),
  /** Most new tokens per completion; default: the rest of the context. */
  max_tokens: int().min(1).nullish(),
  /** OpenAI's newer name for max_tokens. */
  max_completion_tokens: int().min(1).nullish(),
  /** Return the sampled tokens' log-probs. */
  logprobs: z.boolean().nullish(),
  /** With logprobs, this many most likely alternatives per token (0..20). */
  top_logprobs: int().min(0).max(20).nullish(),
});
export type ChatRequest = z.infer<typeof chatRequestSchema>;
