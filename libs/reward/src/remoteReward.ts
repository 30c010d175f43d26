import { z } from 'zod';
import { RewardFatalError, type RewardFn, type RewardSample, type RewardValue } from './sample';

/** Options of `reward.remote`: a reward model served over HTTP. */
export const remoteRewardOptions = z.strictObject({
  /** Endpoint that takes a POST with a JSON batch of samples. */
  url: z.url(),
  /** Samples per request. */
  batch_size: z.number().int().positive().default(32),
  /** Requests in flight at once. */
  max_concurrency: z.number().int().positive().default(4),
  /** Per-request timeout in milliseconds; a request that takes longer is aborted and retried. */
  timeout_ms: z.number().int().positive().default(30_000),
  /** Retries per request after the first attempt, on connection errors, timeouts, 429 and 5xx. */
  max_retries: z.number().int().nonnegative().default(3),
  /** Backoff before retry k (1-based): backoff_ms · 2^(k−1), capped at max_backoff_ms. */
  backoff_ms: z.number().nonnegative().default(250),
  /** Upper bound of one backoff wait. */
  max_backoff_ms: z.number().nonnegative().default(5_000),
  /** Sample fields sent for each sample. */
  request_fields: z.array(z.string().min(1)).min(1).default(['prompt', 'completion', 'answer']),
  /** Key of the sample list in the request body: `{ "<request_key>": [ {...}, ... ] }`. */
  request_key: z.string().min(1).default('samples'),
  /** Dotted path of the reward list in the response body. */
  response_key: z.string().min(1).default('rewards'),
  /** When response items are objects, the field holding the score (e.g. `score`). */
  score_key: z.string().min(1).optional(),
  /** Extra HTTP headers (e.g. authorization). */
  headers: z.record(z.string(), z.string()).default({}),
});
export type RemoteRewardOptions = z.infer<typeof remoteRewardOptions>;

/** Custom request/response mapping for servers that do not fit the key-based options. */
export interface RemoteRewardMapping {
  /** Builds the JSON request body for one chunk of samples. */
  request?: (samples: RewardSample[]) => unknown;
  /** Reads the rewards (one per sample, in order) from the parsed response body. */
  response?: (body: unknown, samples: RewardSample[]) => unknown[];
}

class Retryable extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Reward model over HTTP: each chunk of `batch_size` samples is one POST, up to
 * `max_concurrency` at a time. A failed request (connection error, timeout, 429, 5xx) is
 * retried whole with exponential backoff, and each reward is placed by its sample's
 * position, so no sample is lost or counted twice; after `max_retries` the run stops with an
 * error naming the URL and the last failure. A 4xx or a malformed body stops it at once.
 */
export function remoteReward(
  options: z.input<typeof remoteRewardOptions>,
  mapping: RemoteRewardMapping = {},
): RewardFn {
  const o = remoteRewardOptions.parse(options);
  const path = o.response_key.split('.');

  const toBody = (samples: RewardSample[]) =>
    mapping.request
      ? mapping.request(samples)
      : {
          [o.request_key]: samples.map((s) =>
            Object.fromEntries(o.request_fields.map((f) => [f, s[f] ?? null])),
          ),
        };

  const readRewards = (body: unknown, samples: RewardSample[], where: string): RewardValue[] => {
    let list: unknown = body;
    if (mapping.response) list = mapping.response(body, samples);
    else
      for (const k of path)
        list =
          list != null && typeof list === 'object'
            ? (list as Record<string, unknown>)[k]
            : undefined;
    if (!Array.isArray(list))
      throw new RewardFatalError(
        `${where}: response has no array at '${o.response_key}' (body: ${snippet(JSON.stringify(body))})`,
      );
    if (list.length !== samples.length)
      throw new RewardFatalError(
        `${where}: response has ${list.length} rewards for ${samples.length} samples`,
      );
    return list.map((item, i) => {
      const v =
        o.score_key !== undefined && item != null && typeof item === 'object'
          ? (item as Record<string, unknown>)[o.score_key]
          : item;
      if (v === null) return null;
      if (typeof v !== 'number' || !Number.isFinite(v))
        throw new RewardFatalError(
          `${where}: reward ${i} is ${JSON.stringify(v)}; expected a finite number or null`,
        );
      return v;
    });
  };

  const attempt = async (samples: RewardSample[], where: string): Promise<RewardValue[]> => {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), o.timeout_ms);
    try {
      let res: Response;
      let text: string;
      try {
        res = await fetch(o.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...o.headers },
          body: JSON.stringify(toBody(samples)),
          signal: abort.signal,
        });
        text = await res.text();
      } catch (e) {
        if (abort.signal.aborted) throw new Retryable(`timed out after ${o.timeout_ms} ms`);
        const cause = (e as { cause?: { code?: string; message?: string } }).cause;
        throw new Retryable(
          `connection error: ${cause?.code ?? cause?.message ?? (e as Error).message}`,
        );
      }
      if (res.status >= 500 || res.status === 429)
        throw new Retryable(`HTTP ${res.status}: ${snippet(text)}`);
      if (!res.ok) throw new RewardFatalError(`${where}: HTTP ${res.status}: ${snippet(text)}`);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new RewardFatalError(`${where}: response is not valid JSON: ${snippet(text)}`);
      }
      return readRewards(body, samples, where);
    } finally {
      clearTimeout(timer);
    }
  };

  const request = async (samples: RewardSample[], first: number): Promise<RewardValue[]> => {
    const where = `reward.remote ${o.url} (samples ${first}..${first + samples.length - 1})`;
    for (let k = 0; ; k++) {
      try {
        return await attempt(samples, where);
      } catch (e) {
        if (!(e instanceof Retryable)) throw e;
        if (k >= o.max_retries)
          throw new RewardFatalError(
            `${where}: failed after ${k + 1} attempts (max_retries=${o.max_retries}); last error: ${e.message}`,
          );
        await sleep(Math.min(o.max_backoff_ms, o.backoff_ms * 2 ** k));
      }
    }
  };

  const batch = async (samples: RewardSample[]): Promise<RewardValue[]> => {
    const out = new Array<RewardValue>(samples.length);
    const starts: number[] = [];
    for (let s = 0; s < samples.length; s += o.batch_size) starts.push(s);
    let next = 0;
    const lane = async () => {
      while (next < starts.length) {
        const s = starts[next++];
        const chunk = samples.slice(s, s + o.batch_size);
        const got = await request(chunk, s);
        for (let i = 0; i < got.length; i++) out[s + i] = got[i];
      }
    };
    await Promise.all(Array.from({ length: Math.min(o.max_concurrency, starts.length) }, lane));
    return out;
  };

  const fn = async (sample: RewardSample) => (await batch([sample]))[0];
  return Object.assign(fn, { batch });
}

function snippet(text: string | undefined): string {
  const t = String(text ?? '');
  return t.length > 200 ? `${t.slice(0, 200)}…` : t;
}
