import type { ChatMessage } from '@rxrl/core/base';
import { CancelledError, type SequenceState } from './engine';
import { badParam, parseRequest } from './openaiError';
import { chatRequestSchema } from './requestSchemas';
import { responseFrame, runChoices, usageOf } from './choiceStream';
import {
  checkContext,
  checkIds,
  checkMaxTokens,
  checkModel,
  encodeText,
  samplingSetup,
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
  const frame = responseFrame(ctx, 'chatcmpl', {
    whole: 'chat.completion',
    chunk: 'chat.completion.chunk',
  });
  // streamed: each choice opens with the assistant role, then its content as it becomes final
  if (sink !== null)
    specs.forEach((_, i) =>
      sink.send(
        frame.chunk([
          {
            index: i,
            delta: { role: 'assistant', content: '' },
            logprobs: null,
            finish_reason: null,
          },
        ]),
      ),
    );
  return runChoices(ctx, specs, scope, sink, {
    whole: (states) =>
      frame.whole(
        states.map((s, i) => ({
          index: i,
          message: { role: 'assistant', content: s.text },
          logprobs: k === null ? null : { content: contentLogprobs(ctx, s, 0, asIds) },
          finish_reason: s.finishReason,
          stop_reason: null,
          ...(req.return_token_ids ? { prompt_token_ids: ids, token_ids: s.tokens } : {}),
        })),
        usageOf(ids.length, states),
      ),
    delta: ({ index, state: s, text, fromToken, finished }) => {
      const lp = k === null ? null : contentLogprobs(ctx, s, fromToken, asIds);
      if (text !== '' || (lp && lp.length > 0))
        sink!.send(
          frame.chunk([
            {
              index,
              delta: { content: text },
              logprobs: lp ? { content: lp } : null,
              finish_reason: null,
            },
          ]),
        );
      if (finished)
        sink!.send(
          frame.chunk([
            { index, delta: {}, logprobs: null, finish_reason: s.finishReason, stop_reason: null },
          ]),
        );
    },
    usageChunk: (states) =>
      req.stream_options?.include_usage ? frame.chunk([], usageOf(ids.length, states)) : null,
  });
}
