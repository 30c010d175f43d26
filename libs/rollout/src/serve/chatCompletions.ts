import type { ChatMessage } from '@rxrl/core/base';
import { CancelledError, type SequenceState } from './engine';
import { badParam, parseRequest } from './openaiError';
import { chatRequestSchema } from './requestSchemas';
import {
  checkContext,
  checkIds,
  checkMaxTokens,
  checkModel,
  encodeText,
  requestId,
  samplingSetup,
  streamableLength,
  tokenString,
  type EventSink,
  type RequestScope,
  type ServeContext,
  yieldTurn,
} from './serveContext';

interface ChatTokenLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

function bytes(s: string): number[] {
  return Array.from(Buffer.from(s, 'utf8'));
}

/** The `logprobs.content` entries of tokens `[from, state.tokens.length)`. */
function contentLogprobs(
  ctx: ServeContext,
  s: SequenceState,
  from: number,
  asIds: boolean,
): ChatTokenLogprob[] {
  const out: ChatTokenLogprob[] = [];
  for (let t = from; t < s.tokens.length; t++) {
    const token = tokenString(ctx, s.tokens[t]!, asIds);
    const top = s.top[t]!.map((a) => {
      const str = tokenString(ctx, a.token, asIds);
      return { token: str, logprob: a.logprob, bytes: bytes(str) };
    });
    out.push({ token, logprob: s.logprobs[t]!, bytes: bytes(token), top_logprobs: top });
  }
  return out;
}

/**
 * POST /v1/chat/completions: the messages rendered with the tokenizer's chat
 * template (generation prompt added, no extra special tokens — the template
 * has them), then `n` choices as for completions. Returns the response body,
 * or streams `chat.completion.chunk`s to `sink`.
 */
export async function handleChatCompletion(
  ctx: ServeContext,
  body: unknown,
  sink: EventSink | null,
  scope: RequestScope,
): Promise<unknown> {
  const req = parseRequest(chatRequestSchema, body);
  checkModel(ctx, req.model);
  const asked = req.max_completion_tokens ?? req.max_tokens ?? null;
  if (asked !== null)
    checkMaxTokens(
      ctx,
      asked,
      req.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens',
    );
  const n = req.n ?? 1;
  const k = req.logprobs ? (req.top_logprobs ?? 0) : null;
  if (!req.logprobs && req.top_logprobs)
    throw badParam('top_logprobs', 'top_logprobs needs logprobs: true');
  const sampling = samplingSetup(ctx, req);
  scope.admit(n, 'n');
  // every message renders to at least one token: more messages than the context holds cannot fit
  if (req.messages.length > ctx.limits.maxModelLen)
    throw badParam(
      'messages',
      `${req.messages.length} messages cannot fit this model's maximum context length of ${ctx.limits.maxModelLen} tokens`,
    );
  await yieldTurn();
  const messages: ChatMessage[] = req.messages.map((m) => ({
    role: m.role,
    content:
      typeof m.content === 'string' ? m.content : (m.content ?? []).map((p) => p.text).join(''),
  }));
  let rendered: string;
  try {
    rendered = ctx.tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true });
  } catch (e) {
    throw badParam('messages', `the chat template failed: ${(e as Error).message}`);
  }
  const ids = await checkIds(ctx, await encodeText(ctx, rendered, 'messages', false), 'messages');
  if (scope.gone()) throw new CancelledError();
  const maxTokens = asked ?? ctx.limits.maxModelLen - ids.length;
  checkContext(ctx, ids.length, Math.max(maxTokens, 1), 'messages');
  const asIds = req.return_tokens_as_token_ids ?? false;
  const specs = Array.from({ length: n }, (_, j) => sampling.make(ids, maxTokens, `0/${j}`, k));
  const id = requestId('chatcmpl');
  const created = Math.floor(Date.now() / 1000);
  const usageOf = (states: SequenceState[]) => {
    const completion = states.reduce((a, s) => a + s.tokens.length, 0);
    return {
      prompt_tokens: ids.length,
      completion_tokens: completion,
      total_tokens: ids.length + completion,
    };
  };

  // a client that hangs up (a timed-out remote stage) frees the worker
  for (const spec of specs) spec.cancelled = () => scope.gone();
  if (sink === null) {
    const states = await ctx.engine.generate(specs);
    const choices = states.map((s, i) => ({
      index: i,
      message: { role: 'assistant', content: s.text },
      logprobs: k === null ? null : { content: contentLogprobs(ctx, s, 0, asIds) },
      finish_reason: s.finishReason,
      stop_reason: null,
      ...(req.return_token_ids ? { prompt_token_ids: ids, token_ids: s.tokens } : {}),
    }));
    return {
      id,
      object: 'chat.completion',
      created,
      model: ctx.modelName,
      choices,
      usage: usageOf(states),
    };
  }

  const chunk = (choices: unknown[], usage?: unknown) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model: ctx.modelName,
    choices,
    ...(usage ? { usage } : {}),
  });
  specs.forEach((_, i) =>
    sink.send(
      chunk([
        {
          index: i,
          delta: { role: 'assistant', content: '' },
          logprobs: null,
          finish_reason: null,
        },
      ]),
    ),
  );
  const sent = specs.map(() => ({ text: 0, tokens: 0, finished: false }));
  const emit = (i: number, s: SequenceState) => {
    const mark = sent[i]!;
    if (mark.finished) return;
    const finished = s.finishReason !== null;
    const end = streamableLength(s.text, finished, specs[i]!.stop);
    const delta = end > mark.text ? s.text.slice(mark.text, end) : '';
    mark.text = Math.max(mark.text, end);
    const lp = k === null ? null : contentLogprobs(ctx, s, mark.tokens, asIds);
    mark.tokens = s.tokens.length;
    mark.finished = finished;
    if (delta !== '' || (lp && lp.length > 0)) {
      sink.send(
        chunk([
          {
            index: i,
            delta: { content: delta },
            logprobs: lp ? { content: lp } : null,
            finish_reason: null,
          },
        ]),
      );
    }
    if (finished)
      sink.send(
        chunk([
          { index: i, delta: {}, logprobs: null, finish_reason: s.finishReason, stop_reason: null },
        ]),
      );
  };
  specs.forEach((spec, i) => {
    spec.onToken = (s) => emit(i, s);
  });
  const states = await ctx.engine.generate(specs);
  states.forEach((s, i) => emit(i, s));
  if (req.stream_options?.include_usage) sink.send(chunk([], usageOf(states)));
  return undefined;
}
