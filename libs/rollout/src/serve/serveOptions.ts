import { z } from 'zod';

/** Log levels of `rxrl serve`, most severe first; a level logs itself and everything above it. */
export const LOG_LEVELS = ['off', 'error', 'warning', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Options of {@link createServer}: vLLM's `serve` flag names where vLLM has
 * one (`served_model_name`, `max_num_seqs`, `max_model_len`), Node's for the
 * HTTP limits. Every limit is checked before any work is done for a request.
 */
export const serveOptionsSchema = z
  .object({
    /** The model name clients pass and /v1/models lists. */
    served_model_name: z.string().min(1).default('rxrl'),
    /** Most sequences decoded together; concurrent requests share batches up to this size. */
    max_num_seqs: z.number().int().min(1).default(32),
    /** Context length: prompt + max_tokens must fit (default, and at most, the model's max_position_embeddings). */
    max_model_len: z.number().int().min(2).nullish(),
    /** Most sequences (prompts × n) one request may ask for; more is a 400 before any tokenising. */
    max_seqs_per_request: z.number().int().min(1).default(256),
    /**
     * Most sequences admitted and not yet finished (decoding or waiting), beyond the
     * `max_num_seqs` decoding now; a request that would pass it gets 503 with Retry-After.
     * Default: 4 × max(max_seqs_per_request, max_num_seqs).
     */
    max_queued_seqs: z.number().int().min(0).nullish(),
    /**
     * Largest request body, in bytes; a larger Content-Length is answered 413 before the body
     * is read. Default: 256 KiB + 8 bytes × max_model_len × max_seqs_per_request (every
     * prompt a request may carry at full context, as text or token ids).
     */
    max_body_bytes: z.number().int().min(1).nullish(),
    /** Seconds a client has to send its request headers. */
    headers_timeout_s: z.number().positive().default(10),
    /** Seconds a client has to send its whole request (headers and body); not the response. */
    request_timeout_s: z.number().positive().default(30),
    /** Most open connections; further ones are closed at once. */
    max_connections: z.number().int().min(1).default(256),
    /** `info` logs one line per request, `warning` one per refused request, `error` one per failure. */
    log_level: z.enum(LOG_LEVELS).default('info'),
  })
  .strict();
export type ServeOptions = z.infer<typeof serveOptionsSchema>;
export type ServeOptionsInput = z.input<typeof serveOptionsSchema>;

/** The limits a server enforces, with the derived defaults filled in. */
export interface ServeLimits {
  maxNumSeqs: number;
  maxModelLen: number;
  maxSeqsPerRequest: number;
  maxQueuedSeqs: number;
  maxBodyBytes: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  maxConnections: number;
}

/** Fill the derived defaults of `opts` for a model with context `contextLength`. */
export function resolveLimits(opts: ServeOptions, contextLength: number): ServeLimits {
  if (opts.max_model_len != null && opts.max_model_len > contextLength) {
    throw new RangeError(
      `max_model_len ${opts.max_model_len} is larger than the model's context (max_position_embeddings ${contextLength})`,
    );
  }
  const maxModelLen = opts.max_model_len ?? contextLength;
  return {
    maxNumSeqs: opts.max_num_seqs,
    maxModelLen,
    maxSeqsPerRequest: opts.max_seqs_per_request,
    maxQueuedSeqs:
      opts.max_queued_seqs ?? 4 * Math.max(opts.max_seqs_per_request, opts.max_num_seqs),
    maxBodyBytes: opts.max_body_bytes ?? 256 * 1024 + 8 * maxModelLen * opts.max_seqs_per_request,
    headersTimeoutMs: Math.round(opts.headers_timeout_s * 1000),
    requestTimeoutMs: Math.round(opts.request_timeout_s * 1000),
    maxConnections: opts.max_connections,
  };
}
