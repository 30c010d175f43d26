import type { z } from 'zod';
import { clip } from './serveLog';

/** Longest error message sent back; longer ones (a huge field echoed by a parser) are cut. */
const MAX_MESSAGE = 1000;

/**
 * An error answered in OpenAI's JSON shape, `{ error: { message, type, param, code } }`,
 * with its HTTP status: what the `openai` client turns into `BadRequestError`,
 * `NotFoundError`, ...
 */
export class OpenAIError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly type: string = status === 404
      ? 'NotFoundError'
      : status >= 500
        ? 'InternalServerError'
        : 'BadRequestError',
    /** Extra response headers (e.g. `Retry-After`). */
    readonly headers: Record<string, string> = {},
  ) {
    // a parser may quote a huge field: never send more than MAX_MESSAGE characters back
    super(clip(message, MAX_MESSAGE));
    this.name = 'OpenAIError';
  }

  /** The response body. */
  body(): { error: { message: string; type: string; param: string | null; code: number } } {
    return {
      error: { message: this.message, type: this.type, param: this.param, code: this.status },
    };
  }
}

/** A 400 for a request field, naming it. */
export function badParam(param: string, message: string): OpenAIError {
  return new OpenAIError(400, message, param);
}

/** Parse `body` with `schema`, answering the first problem as a 400 that names the field. */
export function parseRequest<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const param = issue.path.map(String).join('.') || null;
  const unknownKeys = issue.code === 'unrecognized_keys' ? ` (${issue.keys.join(', ')})` : '';
  return raise(
    new OpenAIError(400, `${param ? `'${param}': ` : ''}${issue.message}${unknownKeys}`, param),
  );
}

function raise(e: Error): never {
  throw e;
}
