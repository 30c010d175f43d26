import { CancelledError, promptLogprobs } from './engine';
import { badParam, parseRequest } from './openaiError';
import { completionRequestSchema, type CompletionRequest } from './requestSchemas';
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
} from './serveContext';
import type { TokenLogprob } from './topLogprobs';

interface Prompt {
  ids: number[];
  /** The text as given (echo returns it as is), or null for token ids. */
  text: string | null;
}

/** OpenAI's completions `logprobs` object. */
interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
}

/** How many prompts `prompt` holds (text, texts, token ids or lists of token ids), before any is read. */
function promptCount(p: CompletionRequest['prompt']): number {
  return typeof p === 'string' || typeof p[0] === 'number' ? 1 : p.length;
}

/**
 * Tokenise or check every prompt, one at a time between turns of the event
 * loop (see `encodeText`, `checkIds`), stopping early if the client has gone.
 */
async function readPrompts(
  ctx: ServeContext,
  p: CompletionRequest['prompt'],
  maxTokens: number,
  scope: RequestScope,
): Promise<Prompt[]> {
  const list: Prompt[] = [];
  const add = (ids: number[], text: string | null, param: string) => {
    checkContext(ctx, ids.length, maxTokens, param);
    list.push({ ids, text });
  };
  if (typeof p === 'string') add(await encodeText(ctx, p, 'prompt', true), p, 'prompt');
  else if (typeof p[0] === 'number') add(await checkIds(ctx, p, 'prompt'), null, 'prompt');
  else {
    const texts = typeof p[0] === 'string';
    for (let i = 0; i < p.length; i++) {
      if (scope.gone()) throw new CancelledError();
      const item = p[i];
      if (texts && typeof item === 'string')
        add(await encodeText(ctx, item, `prompt.${i}`, true), item, `prompt.${i}`);
      else if (!texts && Array.isArray(item) && item.length > 0)
        add(await checkIds(ctx, item, `prompt.${i}`), null, `prompt.${i}`);
      else
        throw badParam(
          `prompt.${i}`,
          'prompt must be a string, a list of strings, a list of token ids or a list of non-empty token-id lists',
        );
    }
  }
  return list;
}

/** Appends tokens to a logprobs object, keeping text offsets running. */
class LogprobsBuilder {
  readonly out: CompletionLogprobs = {
    tokens: [],
    token_logprobs: [],
    top_logprobs: [],
    text_offset: [],
  };
  constructor(
    private readonly ctx: ServeContext,
    private readonly asIds: boolean,
    /** Where the next token's text starts in the choice's text. */
    public offset: number,
  ) {}

  add(id: number, logprob: number | null, top: TokenLogprob[] | null): void {
    const s = tokenString(this.ctx, id, this.asIds);
    this.out.tokens.push(s);
    this.out.token_logprobs.push(logprob);
    this.out.text_offset.push(this.offset);
    // offsets index the choice's text, where special tokens (BOS, EOS) do not appear
    this.offset += this.ctx.tokenizer.decode([id], { skipSpecialTokens: true }).length;
    if (top === null || logprob === null) {
      this.out.top_logprobs.push(null);
      return;
    }
    const dict: Record<string, number> = {};
    for (const t of top) dict[tokenString(this.ctx, t.token, this.asIds)] = t.logprob;
    // the sampled token is always listed, as vLLM does
    dict[s] ??= logprob;
    this.out.top_logprobs.push(dict);
  }

  /** What was added since the last call (for a stream chunk). */
  take(): CompletionLogprobs {
    const o = this.out;
    const chunk = {
      tokens: o.tokens.splice(0),
      token_logprobs: o.token_logprobs.splice(0),
      top_logprobs: o.top_logprobs.splice(0),
      text_offset: o.text_offset.splice(0),
    };
    return chunk;
  }
}

/**
 * POST /v1/completions: every prompt (text, texts, ids or id lists) × `n`
 * choices, choice index `prompt × n + j`; with `echo` the prompt's text (and,
 * with `logprobs`, its tokens scored by the model) comes first. Returns the
 * response body, or streams chunks to `sink` when `stream` is true.
 */
export async function handleCompletion(
  ctx: ServeContext,
  body: unknown,
  sink: EventSink | null,
  scope: RequestScope,
): Promise<unknown> {
  const req = parseRequest(completionRequestSchema, body);
  checkModel(ctx, req.model);
  const maxTokens = req.max_tokens ?? 16;
  checkMaxTokens(ctx, maxTokens, 'max_tokens');
  const n = req.n ?? 1;
  const k = req.logprobs ?? null;
  const echo = req.echo ?? false;
  const asIds = req.return_tokens_as_token_ids ?? false;
  const sampling = samplingSetup(ctx, req);
  const count = promptCount(req.prompt);
  scope.admit(count * n, count > 1 ? 'prompt' : 'n');
  const list = await readPrompts(ctx, req.prompt, maxTokens, scope);
  if (scope.gone()) throw new CancelledError();
  const gone = () => scope.gone();
  const frame = responseFrame(ctx, 'cmpl', { whole: 'text_completion', chunk: 'text_completion' });

  const scored =
    echo && k !== null
      ? await Promise.all(
          list.map((p) => ctx.engine.exclusive(() => promptLogprobs(ctx.model, p.ids, k), gone)),
        )
      : null;
  const echoText = list.map((p) =>
    echo ? (p.text ?? ctx.tokenizer.decode(p.ids, { skipSpecialTokens: true })) : '',
  );

  const builders: (LogprobsBuilder | null)[] = [];
  const specs = list.flatMap((p, pi) =>
    Array.from({ length: n }, (_, j) => {
      const b = k === null ? null : new LogprobsBuilder(ctx, asIds, 0);
      if (b && scored) {
        p.ids.forEach((tok, t) => b.add(tok, scored[pi]!.logprobs[t]!, scored[pi]!.top[t]!));
        b.offset = echoText[pi]!.length;
      }
      builders.push(b);
      return sampling.make(p.ids, maxTokens, `${pi}/${j}`, k);
    }),
  );
  const promptTokens = list.reduce((a, p) => a + p.ids.length, 0);

  // streaming: the echoed prompt first, then text as it becomes final
  if (sink !== null)
    specs.forEach((_, i) => {
      const b = builders[i];
      if (echoText[Math.floor(i / n)] || (b && b.out.tokens.length > 0)) {
        sink.send(
          frame.chunk([
            {
              index: i,
              text: echoText[Math.floor(i / n)],
              logprobs: b ? b.take() : null,
              finish_reason: null,
            },
          ]),
        );
      }
    });
  return runChoices(ctx, specs, scope, sink, {
    whole: (states) =>
      frame.whole(
        states.map((s, i) => {
          const b = builders[i];
          if (b) s.tokens.forEach((tok, t) => b.add(tok, s.logprobs[t]!, s.top[t]!));
          return {
            index: i,
            text: echoText[Math.floor(i / n)]! + s.text,
            logprobs: b ? b.out : null,
            finish_reason: s.finishReason,
            stop_reason: null,
            ...(req.return_token_ids
              ? { prompt_token_ids: list[Math.floor(i / n)]!.ids, token_ids: s.tokens }
              : {}),
          };
        }),
        usageOf(promptTokens, states),
      ),
    delta: ({ index, state: s, text, fromToken, finished }) => {
      const b = builders[index];
      if (b)
        for (let t = fromToken; t < s.tokens.length; t++)
          b.add(s.tokens[t]!, s.logprobs[t]!, s.top[t]!);
      if (text === '' && !finished && (!b || b.out.tokens.length === 0)) return;
      sink!.send(
        frame.chunk([
          {
            index,
            text,
            logprobs: b ? b.take() : null,
            finish_reason: finished ? s.finishReason : null,
            stop_reason: null,
          },
        ]),
      );
    },
    usageChunk: (states) =>
      req.stream_options?.include_usage ? frame.chunk([], usageOf(promptTokens, states)) : null,
  });
}
