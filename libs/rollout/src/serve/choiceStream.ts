import type { SequenceSpec, SequenceState } from './engine';
import {
  requestId,
  streamableLength,
  type EventSink,
  type RequestScope,
  type ServeContext,
} from './serveContext';

/** A response's id, creation time and object names, and how its bodies and chunks are framed. */
export interface ResponseFrame {
  /** `{ id, object, created, model, choices, usage? }` with the streamed object name */
  chunk(choices: unknown[], usage?: unknown): Record<string, unknown>;
  /** the same with the whole-response object name */
  whole(choices: unknown[], usage: unknown): Record<string, unknown>;
}

/** The frame of one response: `chatcmpl` / `chat.completion(.chunk)` or `cmpl` / `text_completion`. */
export function responseFrame(
  ctx: ServeContext,
  idPrefix: string,
  objects: { whole: string; chunk: string },
): ResponseFrame {
  const id = requestId(idPrefix);
  const created = Math.floor(Date.now() / 1000);
  const frame = (object: string, choices: unknown[], usage?: unknown) => ({
    id,
    object,
    created,
    model: ctx.modelName,
    choices,
    ...(usage ? { usage } : {}),
  });
  return {
    chunk: (choices, usage) => frame(objects.chunk, choices, usage),
    whole: (choices, usage) => frame(objects.whole, choices, usage),
  };
}

/** OpenAI's `usage` of `promptTokens` prompt tokens and the generated `states`. */
export function usageOf(promptTokens: number, states: readonly SequenceState[]) {
  const completion = states.reduce((a, s) => a + s.tokens.length, 0);
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completion,
    total_tokens: promptTokens + completion,
  };
}

/** What streaming one choice sends as its text becomes final. */
export interface ChoiceDelta {
  /** the choice's index */
  index: number;
  state: SequenceState;
  /** text that became final since the last delta ('' when none) */
  text: string;
  /** the first token not yet sent (tokens `[fromToken, state.tokens.length)` are new) */
  fromToken: number;
  /** the choice ended with this delta */
  finished: boolean;
}

/**
 * Generates `specs` (the choices of one request) and answers: without a sink the
 * whole response `whole(states)`; with one, each choice's text as it becomes final
 * (`streamableLength`: a stop string's prefix and a split UTF-8 character wait)
 * through `delta`, once more at the end, then the usage chunk when the client asked
 * for it. A client that hangs up cancels the choices (a timed-out remote stage frees
 * the worker).
 */
export async function runChoices(
  ctx: ServeContext,
  specs: SequenceSpec[],
  scope: RequestScope,
  sink: EventSink | null,
  respond: {
    whole(states: SequenceState[]): unknown;
    delta(d: ChoiceDelta): void;
    /** the usage chunk at the end of a stream, or null when not asked for */
    usageChunk(states: SequenceState[]): unknown;
  },
): Promise<unknown> {
  for (const spec of specs) spec.cancelled = () => scope.gone();
  if (sink === null) return respond.whole(await ctx.engine.generate(specs));
  const sent = specs.map(() => ({ text: 0, tokens: 0, finished: false }));
  const emit = (index: number, state: SequenceState) => {
    const mark = sent[index]!;
    if (mark.finished) return;
    const finished = state.finishReason !== null;
    const end = streamableLength(state.text, finished, specs[index]!.stop);
    const text = end > mark.text ? state.text.slice(mark.text, end) : '';
    mark.text = Math.max(mark.text, end);
    const fromToken = mark.tokens;
    mark.tokens = state.tokens.length;
    mark.finished = finished;
    respond.delta({ index, state, text, fromToken, finished });
  };
  specs.forEach((spec, i) => {
    spec.onToken = (s) => emit(i, s);
  });
  const states = await ctx.engine.generate(specs);
  states.forEach((s, i) => emit(i, s));
  const usage = respond.usageChunk(states);
  if (usage !== null) sink.send(usage);
  return undefined;
}
