import { RxrlError } from '@rxrl/core/base';

/** Retry and timeout settings of {@link postJson}. */
export interface RetryPolicy {
  timeoutMs: number;
  maxRetries: number;
  backoffMs: number;
  maxBackoffMs: number;
}

/** A request that failed for good: after its retries, or at once for a non-retryable answer. */
export class RemoteRequestError extends RxrlError {
  constructor(
    message: string,
    /** The URL requested. */
    readonly url: string,
    /** Attempts made. */
    readonly attempts: number,
    /** HTTP status of the last answer, or null when there was none (connection error, timeout). */
    readonly lastStatus: number | null,
  ) {
    super(message);
    this.name = 'RemoteRequestError';
  }
}

/** Why one attempt failed, and whether another may succeed. */
interface Failure {
  retry: boolean;
  status: number | null;
  what: string;
}

function describeNetworkError(e: unknown): string {
  const err = e as { message?: string; cause?: { code?: string; message?: string } };
  const cause = err.cause;
  if (cause?.code)
    return `connection error ${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
  return `connection error: ${cause?.message ?? err.message ?? String(e)}`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** One attempt: the parsed JSON body, or why it failed. */
async function attempt(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
  outer: AbortSignal,
): Promise<{ ok: true; json: unknown } | ({ ok: false } & Failure)> {
  const ac = new AbortController();
  const onOuter = () => ac.abort(outer.reason);
  outer.addEventListener('abort', onOuter, { once: true });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort(new Error('timeout'));
  }, timeoutMs);
  try {
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, { method: 'POST', body, headers, signal: ac.signal });
      text = await res.text();
    } catch (e) {
      if (outer.aborted) throw outer.reason;
      if (timedOut)
        return {
          ok: false,
          retry: true,
          status: null,
          what: `no complete answer within timeout_ms=${timeoutMs}`,
        };
      return { ok: false, retry: true, status: null, what: describeNetworkError(e) };
    }
    if (!res.ok) {
      const retry = res.status >= 500 || res.status === 429 || res.status === 408;
      return {
        ok: false,
        retry,
        status: res.status,
        what: `HTTP ${res.status}: ${errorMessage(text)}`,
      };
    }
    try {
      return { ok: true, json: JSON.parse(text) };
    } catch {
      return {
        ok: false,
        retry: false,
        status: res.status,
        what: `HTTP ${res.status} with a body that is not JSON: ${JSON.stringify(text.slice(0, 200))}`,
      };
    }
  } finally {
    clearTimeout(timer);
    outer.removeEventListener('abort', onOuter);
  }
}

/** The `error.message` of an OpenAI-shaped error body, else the start of the body. */
function errorMessage(text: string): string {
  try {
    const j = JSON.parse(text) as { error?: { message?: string } | string; message?: string };
    const m = typeof j.error === 'string' ? j.error : (j.error?.message ?? j.message);
    if (m) return m;
  } catch {
    // not JSON: show the raw text
  }
  return JSON.stringify(text.slice(0, 200));
}

/**
 * POST `body` as JSON and return the parsed answer. Connection errors,
 * timeouts (each attempt gets `timeoutMs`), 408, 429 and 5xx are retried up
 * to `maxRetries` times with exponential backoff; other answers fail at once.
 * The final error names the URL, the attempts and the last status. Aborting
 * `signal` stops waiting and rejects with its reason.
 */
export async function postJson(
  url: string,
  body: unknown,
  policy: RetryPolicy,
  options: { apiKey?: string | null; signal?: AbortSignal; onRetry?: (what: string) => void } = {},
): Promise<unknown> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.apiKey) headers['authorization'] = `Bearer ${options.apiKey}`;
  const signal = options.signal ?? new AbortController().signal;
  const text = JSON.stringify(body);
  for (let n = 0; ; n++) {
    const r = await attempt(url, text, headers, policy.timeoutMs, signal);
    if (r.ok) return r.json;
    const attempts = n + 1;
    if (!r.retry)
      throw new RemoteRequestError(`POST ${url} failed: ${r.what}`, url, attempts, r.status);
    if (n >= policy.maxRetries) {
      throw new RemoteRequestError(
        `POST ${url} failed ${attempts} times (max_retries=${policy.maxRetries}); last: ${r.what}`,
        url,
        attempts,
        r.status,
      );
    }
    options.onRetry?.(r.what);
    const wait =
      Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** n) * (0.8 + 0.4 * Math.random());
    await sleep(wait, signal);
  }
}
