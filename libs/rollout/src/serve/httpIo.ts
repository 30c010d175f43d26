import type * as http from 'node:http';
import { OpenAIError } from './openaiError';
import { clip } from './serveLog';

// The HTTP edges of `rxrl serve`: reading a bounded body, answering, parsing the URL.

/** How long, and how many bytes, the rest of a refused body is read (and dropped) so the client sees the answer, not a reset. */
const DRAIN_MS = 2000;
const DRAIN_BYTES = 64 * 1024 * 1024;

/** Read the body; past `limit` bytes (a chunked body without Content-Length) it rejects with 413 and stops keeping data. */
export function readBody(req: http.IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    let over = false;
    const onData = (b: Buffer) => {
      size += b.length;
      if (size > limit) {
        over = true;
        parts.length = 0;
        req.off('data', onData);
        reject(new OpenAIError(413, `the request body is larger than ${limit} bytes`));
      } else parts.push(b);
    };
    req.on('data', onData);
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(parts).toString('utf8'));
    });
    req.on('error', reject);
  });
}

/**
 * Answer and close the connection without reading the rest of the body,
 * yet without a TCP reset that would hide the answer: the response is
 * written at once, the rest of the body is read and dropped for up to
 * {@link DRAIN_MS} / {@link DRAIN_BYTES}, then the connection is closed.
 */
function answerAndClose(req: http.IncomingMessage, res: http.ServerResponse, text: string): void {
  if (req.readableEnded || req.destroyed) return void res.end(text);
  res.write(text);
  let dropped = 0;
  const finish = () => {
    clearTimeout(timer);
    req.off('data', onData);
    if (!res.writableEnded) res.end();
    if (!req.readableEnded) res.destroy();
  };
  const onData = (b: Buffer) => {
    dropped += b.length;
    if (dropped > DRAIN_BYTES) finish();
  };
  const timer = setTimeout(finish, DRAIN_MS);
  req.on('data', onData);
  req.once('end', finish);
  req.once('close', finish);
  req.resume();
}

/** Answer `body` as JSON; a 413 also closes the connection (see {@link answerAndClose}). */
export function sendJson(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  // a refused body is not read: close the connection rather than read megabytes to keep it alive
  const close = status === 413;
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
    ...(close ? { connection: 'close' } : {}),
  });
  if (close) answerAndClose(req, res, text);
  else res.end(text);
}

/** The request's path, without trailing slashes; 400 for a URL that cannot be parsed. */
export function pathOf(req: http.IncomingMessage): string {
  try {
    return new URL(req.url ?? '/', 'http://x').pathname.replace(/\/+$/, '');
  } catch {
    throw new OpenAIError(400, `malformed URL ${clip(req.url ?? '')}`);
  }
}

/** `decodeURIComponent`, with a 400 for a malformed escape (`%`, `%zz`). */
export function decodePart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new OpenAIError(400, `malformed URL: bad percent-escape in ${clip(part)}`);
  }
}
