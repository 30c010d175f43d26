import { randomInt } from 'node:crypto';
import { Rng, type Tokenizer } from '@rxrl/core/base';
import type { CausalLM } from '@rxrl/model';
import { checkSamplingParams, type SamplingParams } from '../sampling/samplingParams';
import type { Engine, SequenceSpec } from './engine';
import { OpenAIError, badParam } from './openaiError';
import type { ChatRequest, CompletionRequest } from './requestSchemas';
import { clip } from './serveLog';
import type { ServeLimits } from './serveOptions';

/** What the request handlers share. */
export interface ServeContext {
  model: CausalLM;
  tokenizer: Tokenizer;
  engine: Engine;
  /** The name clients pass as `model`. */
  modelName: string;
  /** Unix seconds the server started (the model's `created`). */
  created: number;
  /** The limits every request is checked against. */
  limits: ServeLimits;
  /** Tokenise off the event loop (a worker thread); null: `tokenizer.encode`, in slices. */
  encode: Encoder | null;
}

/** The tokenizer's `encode`, done elsewhere (e.g. a worker thread holding a copy of it). */
export type Encoder = (text: string, addSpecialTokens: boolean) => Promise<number[]>;

/** One request as its handler sees it. */
export interface RequestScope {
  /** Whether the client has gone away (checked before each slice of work). */
  gone(): boolean;
  /**
   * Admit `seqs` sequences (prompts × n) before any tokenising: a 400 naming
   * `param` over `max_seqs_per_request`, a 503 with Retry-After when the
   * server's queue is full. Released when the request ends.
   */
  admit(seqs: number, param: string): void;
}

/** Below this temperature a request is decoded greedily (vLLM's `_SAMPLING_EPS`): 1/T overflows float64 soon after. */
export const TEMPERATURE_FLOOR = 1e-5;

/** Characters of a text prompt tokenised first to see whether it can fit at all (per token of context; English is 3–4). */
const PROBE_CHARS_PER_TOKEN = 4;
/** A text prompt longer than this many characters per token of context is refused untokenised. */
export const MAX_CHARS_PER_TOKEN = 16;
/** Tokens a probe may exceed the context by before the text is refused unread. */
const PROBE_MARGIN = 16;
/** Token ids validated between two turns of the event loop. */
const IDS_PER_SLICE = 1 << 16;

/** Wait one turn of the event loop, so /health and other requests are answered between slices of work. */
export function yieldTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Where a streaming handler writes its server-sent events. */
export interface EventSink {
  /** Send one `data: <json>` event. */
  send(event: unknown): void;
  /** Whether the client has gone away. */
  readonly closed: boolean;
}

/** 404 unless `model` is the served model's name (vLLM's message). */
export function checkModel(ctx: ServeContext, model: string): void {
  if (model !== ctx.modelName)
    throw new OpenAIError(404, `The model \`${clip(model)}\` does not exist.`, 'model');
}

/**
 * Check a token-id prompt: integers in the vocabulary, no longer than the
 * context, validated in slices between turns of the event loop.
 */
export async function checkIds(
  ctx: ServeContext,
  ids: readonly unknown[],
  param: string,
): Promise<number[]> {
  const vocab = ctx.model.config.vocabSize;
  const maxLen = ctx.limits.maxModelLen;
  if (ids.length > maxLen) throw contextError(param, maxLen, `${ids.length}`);
  for (let i = 0; i < ids.length; i++) {
    if (i > 0 && i % IDS_PER_SLICE === 0) await yieldTurn();
    const id = ids[i];
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= vocab)
      throw badParam(
        param,
        `token id ${clip(JSON.stringify(id) ?? String(id), 40)} is not an integer in the vocabulary [0, ${vocab})`,
      );
  }
  return ids as number[];
}

function contextError(param: string, ctxLen: number, promptTokens: string): OpenAIError {
  return badParam(
    param,
    `This model's maximum context length is ${ctxLen} tokens. However, the prompt alone has ${promptTokens} tokens.`,
  );
}

/**
 * Encode text for a prompt after a turn of the event loop; a tokenizer
 * failure is the client's 400. So that one call never tokenises much more
 * than a context's worth: a text longer than 16 characters per token of
 * context is refused untokenised, and one longer than 4 is first probed —
 * when its first `4 × max_model_len` characters are already more than the
 * context (+16) tokens, it is refused without tokenising the rest.
 */
export async function encodeText(
  ctx: ServeContext,
  text: string,
  param: string,
  addSpecialTokens: boolean,
): Promise<number[]> {
  await yieldTurn();
  const maxLen = ctx.limits.maxModelLen;
  const encode = async (t: string) => {
    try {
      return ctx.encode
        ? await ctx.encode(t, addSpecialTokens)
        : ctx.tokenizer.encode(t, { addSpecialTokens });
    } catch (e) {
      throw badParam(param, `cannot tokenize: ${clip((e as Error).message, 200)}`);
    }
  };
  if (text.length > MAX_CHARS_PER_TOKEN * maxLen)
    throw badParam(
      param,
      `This model's maximum context length is ${maxLen} tokens. However, the prompt is ${text.length} characters, more than ${MAX_CHARS_PER_TOKEN} per token of context.`,
    );
  let probe = PROBE_CHARS_PER_TOKEN * maxLen;
  if (text.length > probe) {
    // do not cut a surrogate pair in two
    const c = text.charCodeAt(probe - 1);
    if (c >= 0xd800 && c <= 0xdbff) probe--;
    const head = await encode(text.slice(0, probe));
    // a cut word may take a few more tokens than whole: refuse only well past the context
    if (head.length > maxLen + PROBE_MARGIN)
      throw contextError(param, maxLen, `at least ${head.length - PROBE_MARGIN}`);
    await yieldTurn();
  }
  return encode(text);
}

/** 400 when `max_tokens` leaves no room for a one-token prompt in the context (checked before any tokenising). */
export function checkMaxTokens(ctx: ServeContext, maxTokens: number, param: string): void {
  const ctxLen = ctx.limits.maxModelLen;
  if (maxTokens > ctxLen - 1)
    throw badParam(
      param,
      `${param} is ${maxTokens}, but this model's maximum context length is ${ctxLen} tokens: at most ${ctxLen - 1} new tokens fit after a one-token prompt.`,
    );
}

/** 400 when prompt + completion would not fit the model's context (vLLM's check). */
export function checkContext(
  ctx: ServeContext,
  promptLen: number,
  maxTokens: number,
  param: string,
): void {
  const ctxLen = ctx.limits.maxModelLen;
  if (promptLen === 0) throw badParam(param, 'the prompt is empty; it needs at least one token');
  if (promptLen + maxTokens > ctxLen) {
    throw badParam(
      param,
      `This model's maximum context length is ${ctxLen} tokens. However, you requested ${promptLen + maxTokens} tokens (${promptLen} in the prompt, ${maxTokens} for the completion).`,
    );
  }
}

/** The sampling part of a request, shared by every sequence it asks for. */
export interface SamplingSetup {
  base: Rng;
  make(
    prompt: readonly number[],
    maxTokens: number,
    key: string,
    topLogprobs: number | null,
  ): SequenceSpec;
}

/**
 * Sampling settings of a request: parameters checked (400 naming the field),
 * stop strings and stop ids, and one RNG per sequence forked from `seed`
 * by `key` (prompt and choice index), so a seeded request is reproducible
 * whatever else is decoded beside it.
 */
export function samplingSetup(
  ctx: ServeContext,
  req: CompletionRequest | ChatRequest,
): SamplingSetup {
  // below the floor 1/T overflows: greedy, with log-probs at T = 1 like temperature 0
  const asked = req.temperature ?? 1;
  const temperature = asked < TEMPERATURE_FLOOR ? 0 : asked;
  const topK = req.top_k ?? null;
  let params: SamplingParams;
  try {
    params = checkSamplingParams({
      temperature,
      top_k: topK !== null && topK > 0 ? topK : null,
      top_p: req.top_p ?? 1,
      min_p: req.min_p ?? 0,
    });
  } catch (e) {
    // its messages start with the option's name
    const message = (e as Error).message;
    throw badParam(message.split(' ')[0]!, message);
  }
  const stop = req.stop == null ? [] : typeof req.stop === 'string' ? [req.stop] : req.stop;
  if (stop.some((s) => s.length === 0)) throw badParam('stop', 'stop strings must not be empty');
  const stopIds = new Set<number>(req.stop_token_ids ?? []);
  if (!req.ignore_eos && ctx.tokenizer.eosTokenId !== null) stopIds.add(ctx.tokenizer.eosTokenId);
  const base = new Rng(req.seed ?? randomInt(2 ** 31));
  return {
    base,
    make: (prompt, maxTokens, key, topLogprobs) => ({
      prompt,
      params,
      maxTokens,
      stop,
      stopTokenIds: stopIds,
      includeStopStr: req.include_stop_str_in_output ?? false,
      rng: base.fork(key),
      topLogprobs,
    }),
  };
}

/** The text of one token for logprobs: its decoded string, or `token_id:<id>` (vLLM's return_tokens_as_token_ids). */
export function tokenString(ctx: ServeContext, id: number, asIds: boolean): string {
  return asIds ? `token_id:${id}` : ctx.tokenizer.decode([id], { skipSpecialTokens: false });
}

/**
 * How much of a sequence's text may be sent while it is still decoding:
 * not the last `longest stop − 1` characters (they may turn into a stop
 * string that is cut) nor a trailing U+FFFD (half a multi-byte character).
 */
export function streamableLength(text: string, finished: boolean, stop: readonly string[]): number {
  if (finished) return text.length;
  let hold = 0;
  for (const s of stop) hold = Math.max(hold, s.length - 1);
  let end = text.length - hold;
  while (end > 0 && text.charCodeAt(end - 1) === 0xfffd) end--;
  return Math.max(0, end);
}

/** A short random id, like OpenAI's. */
export function requestId(prefix: string): string {
  return `${prefix}-${randomInt(2 ** 47).toString(16)}${randomInt(2 ** 47).toString(16)}`;
}
