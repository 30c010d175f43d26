import { randomInt } from 'node:crypto';
import { Rng, type Tokenizer } from '@rxrl/core/base';
import type { CausalLM } from '@rxrl/model';
import { checkSamplingParams, type SamplingParams } from '../sampling/samplingParams';
import type { Engine, SequenceSpec } from './engine';
import { OpenAIError, badParam } from './openaiError';
import type { ChatRequest, CompletionRequest } from './requestSchemas';

/** What the request handlers share. */
export interface ServeContext {
  model: CausalLM;
  tokenizer: Tokenizer;
  engine: Engine;
  /** The name clients pass as `model`. */
  modelName: string;
  /** Unix seconds the server started (the model's `created`). */
  created: number;
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
    throw new OpenAIError(404, `The model \`${model}\` does not exist.`, 'model');
}

/** Check token ids against the vocabulary; `param` names the request field. */
export function checkIds(ctx: ServeContext, ids: readonly number[], param: string): void {
  const vocab = ctx.model.config.vocabSize;
  for (const id of ids) {
    if (id >= vocab)
      throw badParam(param, `token id ${id} is outside the vocabulary [0, ${vocab})`);
  }
}

/** Encode text for a prompt; a tokenizer failure is the client's 400. */
export function encodeText(
  ctx: ServeContext,
  text: string,
  param: string,
  addSpecialTokens: boolean,
): number[] {
  try {
    return ctx.tokenizer.encode(text, { addSpecialTokens });
  } catch (e) {
    throw badParam(param, `cannot tokenize: ${(e as Error).message}`);
  }
}

/** 400 when prompt + completion would not fit the model's context (vLLM's check). */
export function checkContext(
  ctx: ServeContext,
  promptLen: number,
  maxTokens: number,
  param: string,
): void {
  const ctxLen = ctx.model.config.maxPositionEmbeddings;
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
  const temperature = req.temperature ?? 1;
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
