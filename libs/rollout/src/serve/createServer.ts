import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Tokenizer } from '@rxrl/core/base';
import type { CausalLM } from '@rxrl/model';
import { handleChatCompletion } from './chatCompletions';
import { handleCompletion } from './completions';
import { CancelledError, Engine } from './engine';
import { OpenAIError, badParam } from './openaiError';
import type { Encoder, EventSink, RequestScope, ServeContext } from './serveContext';
import { decodePart, pathOf, readBody, sendJson } from './httpIo';
import { clip, serveLog, type LogWrite } from './serveLog';
import {
  resolveLimits,
  serveOptionsSchema,
  type ServeLimits,
  type ServeOptionsInput,
} from './serveOptions';

export {
  serveOptionsSchema,
  type ServeLimits,
  type ServeOptions,
  type ServeOptionsInput,
} from './serveOptions';

/**
 * What a server takes beyond its (JSON, vLLM-named) options: more models to
 * serve, where it writes its log and how it tokenises.
 */
export interface ServeExtras {
  /**
   * More models served beside the first, each under its own name with its own
   * worker — LoRA adapters over the same base weights (`model.withAdapter(adapter)`),
   * as vLLM's `--lora-modules name=path`; a request picks one by its `model` field.
   * Every limit applies to each of them (`max_model_len` against its own context).
   */
  extraModels?: ReadonlyMap<string, CausalLM>;
  /** Where log lines go (default: standard error). */
  log?: LogWrite;
  /** Tokenise prompts with this instead of `tokenizer.encode` on the event loop (e.g. in a worker thread). */
  encode?: Encoder;
}

/** A running (or ready) OpenAI-compatible server. */
export interface RxrlServer {
  /** The underlying node:http server. */
  readonly http: http.Server;
  /** The model worker (its queue is shared by every request). */
  readonly engine: Engine;
  /** The workers of the extra models, by served name. */
  readonly engines: ReadonlyMap<string, Engine>;
  /**
   * The limits requests are checked against (derived defaults filled in): the
   * first model's; an extra model's `maxModelLen` is its own (see /v1/models), and
   * `maxBodyBytes` is the largest any served model derives.
   */
  readonly limits: ServeLimits;
  /** Start listening (port 0 = any free port); resolves with the base URL, e.g. `http://127.0.0.1:8000`. */
  listen(port?: number, host?: string): Promise<string>;
  /** Stop accepting, drop open connections (in-flight requests fail client-side), resolve when closed. */
  close(): Promise<void>;
}

/**
 * An OpenAI-compatible HTTP server (node:http) for a local model:
 * `GET /v1/models`, `POST /v1/completions`, `POST /v1/chat/completions`
 * (`n`, `logprobs`, `echo`, text or token-id prompts, `stop`, `max_tokens`,
 * `temperature`, `top_p`, `seed`, `stream`), `GET /health`. Requests queue
 * for one model worker that batches whatever is waiting. Errors answer in
 * OpenAI's `{ error: { message, type, param, code } }` shape.
 *
 * `extras.extraModels` are more models served beside the first, each under its
 * own name with its own worker (LoRA adapters over the same base, as vLLM's
 * `--lora-modules`); /v1/models lists them with the first as their `parent`.
 * Every limit, timeout and log line applies to each; admission
 * (`max_num_seqs` + `max_queued_seqs`) counts the sequences of all of them together.
 *
 * @example
 * const server = createServer(model, tokenizer, { served_model_name: 'policy' });
 * const url = await server.listen(8000, '127.0.0.1'); // then new OpenAI({ baseURL: `${url}/v1`, apiKey: 'none' })
 */
export function createServer(
  model: CausalLM,
  tokenizer: Tokenizer,
  options: ServeOptionsInput = {},
  extras: ServeExtras = {},
): RxrlServer {
  const opts = serveOptionsSchema.parse(options);
  const log = serveLog(opts.log_level, extras.log);
  const created = Math.floor(Date.now() / 1000);
  const contextOf = (m: CausalLM, name: string): ServeContext => {
    // max_model_len (given or the default) is checked against each model's own context
    let l: ServeLimits;
    try {
      l = resolveLimits(opts, m.config.maxPositionEmbeddings);
    } catch (e) {
      if (m === model || !(e instanceof RangeError)) throw e;
      throw new RangeError(`${e.message}, of the model served as '${name}'`);
    }
    return {
      model: m,
      tokenizer,
      engine: new Engine(m, tokenizer, l.maxNumSeqs),
      modelName: name,
      created,
      limits: l,
      encode: extras.encode ?? null,
    };
  };
  const ctx = contextOf(model, opts.served_model_name);
  const contexts = new Map([[ctx.modelName, ctx]]);
  for (const [name, m] of extras.extraModels ?? new Map<string, CausalLM>()) {
    if (contexts.has(name))
      throw new Error(`createServer: the model name '${name}' is served twice`);
    contexts.set(name, contextOf(m, name));
  }
  const engine = ctx.engine;
  // the body is limited before it is read, so before its `model` is known: the largest any model takes
  const limits: ServeLimits = {
    ...ctx.limits,
    maxBodyBytes: Math.max(...[...contexts.values()].map((c) => c.limits.maxBodyBytes)),
  };
  const modelCard = (c: ServeContext) => ({
    id: c.modelName,
    object: 'model',
    created: c.created,
    owned_by: 'rxrl',
    max_model_len: c.limits.maxModelLen,
    ...(c === ctx ? {} : { parent: ctx.modelName }),
  });
  /** Sequences admitted and not yet finished, over every request. */
  let inFlight = 0;
  const capacity = limits.maxNumSeqs + limits.maxQueuedSeqs;

  /** What one request did, for its log line. */
  interface Outcome {
    seqs: number;
    error: OpenAIError | null;
    /** The failure behind a 500, for the debug log. */
    cause: unknown;
  }

  async function route(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    outcome: Outcome,
  ): Promise<void> {
    const path = pathOf(req);
    const method = req.method ?? 'GET';
    if (method === 'GET' && (path === '/health' || path === '/v1/health'))
      return sendJson(req, res, 200, { status: 'ok' });
    if (method === 'GET' && path === '/v1/models')
      return sendJson(req, res, 200, {
        object: 'list',
        data: [...contexts.values()].map(modelCard),
      });
    if (method === 'GET' && path.startsWith('/v1/models/')) {
      const name = decodePart(path.slice('/v1/models/'.length));
      const c = contexts.get(name);
      if (c === undefined)
        throw new OpenAIError(404, `The model \`${clip(name)}\` does not exist.`, 'model');
      return sendJson(req, res, 200, modelCard(c));
    }
    const handler =
      path === '/v1/completions'
        ? handleCompletion
        : path === '/v1/chat/completions'
          ? handleChatCompletion
          : null;
    if (handler === null)
      throw new OpenAIError(
        404,
        `no route ${method} ${clip(path || '/')}; try GET /v1/models, POST /v1/completions or POST /v1/chat/completions`,
      );
    if (method !== 'POST') throw new OpenAIError(405, `${path} expects POST, got ${clip(method)}`);
    // refuse from the header, before reading a byte of the body
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limits.maxBodyBytes)
      throw new OpenAIError(
        413,
        `the request body is ${declared} bytes; this server takes at most ${limits.maxBodyBytes} (--max-body-bytes)`,
      );
    if (req.headers.expect?.toLowerCase() === '100-continue') res.writeContinue();
    const text = await readBody(req, limits.maxBodyBytes);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (e) {
      throw new OpenAIError(400, `the request body is not valid JSON: ${(e as Error).message}`);
    }
    const stream =
      typeof body === 'object' && body !== null && (body as { stream?: unknown }).stream === true;
    // the request's `model` picks the context; an unknown name is the handler's 404
    const requested =
      typeof body === 'object' && body !== null ? (body as { model?: unknown }).model : undefined;
    const target = (typeof requested === 'string' && contexts.get(requested)) || ctx;
    let closed = false;
    res.on('close', () => (closed = true));
    let admitted = 0;
    const scope: RequestScope = {
      gone: () => closed,
      admit(seqs, param) {
        if (seqs > limits.maxSeqsPerRequest)
          throw badParam(
            param,
            `this request asks for ${seqs} sequences (prompts × n); the server takes at most ${limits.maxSeqsPerRequest} per request (--max-seqs-per-request)`,
          );
        // an idle server takes any request within the per-request cap
        if (inFlight > 0 && inFlight + seqs > capacity)
          throw new OpenAIError(
            503,
            `the server is busy: ${inFlight} sequences are decoding or queued, and ${seqs} more would pass its limit of ${capacity} (--max-num-seqs + --max-queued-seqs); retry later`,
            null,
            'ServiceUnavailableError',
            { 'retry-after': '1' },
          );
        inFlight += seqs;
        admitted += seqs;
        outcome.seqs += seqs;
      },
    };
    try {
      if (!stream) return sendJson(req, res, 200, await handler(target, body, null, scope));

      // Validation errors must still be plain JSON errors: open the event stream on the first event only.
      const sink: EventSink = {
        send(event) {
          if (closed) return;
          if (!res.headersSent)
            res.writeHead(200, {
              'content-type': 'text/event-stream',
              'cache-control': 'no-cache',
            });
          res.write(`data: ${JSON.stringify(event)}\n\n`);
        },
        get closed() {
          return closed;
        },
      };
      try {
        await handler(target, body, sink, scope);
      } catch (e) {
        if (!res.headersSent || closed) throw e;
        const err = errorOf(e);
        outcome.error = err;
        outcome.cause = e;
        sink.send(err.body());
      }
      if (closed) return;
      if (!res.headersSent)
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.end('data: [DONE]\n\n');
    } finally {
      inFlight -= admitted;
    }
  }

  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const t0 = performance.now();
    const outcome: Outcome = { seqs: 0, error: null, cause: null };
    res.on('close', () => {
      // closed before we ended the response: the client went away
      const gone = !res.writableEnded;
      const status = gone ? 499 : res.statusCode;
      const where = `${clip(req.method ?? '?', 16)} ${clip(req.url ?? '', 200)}`;
      const err = outcome.error;
      if (err) {
        const named = err.param && !err.message.includes(`'${err.param}'`);
        const what = `${where} ${err.status}${named ? ` ${clip(err.param!, 60)}:` : ''} ${err.message}`;
        log.log(err.status >= 500 ? 'error' : 'warning', what);
        if (err.status >= 500 && log.enabled('debug') && outcome.cause instanceof Error)
          log.log('debug', clip(outcome.cause.stack ?? '', 4000));
      }
      log.log(
        'info',
        `${where} ${status} ${(performance.now() - t0).toFixed(1)}ms seqs=${outcome.seqs}${gone ? ' (client closed the connection)' : ''}`,
      );
    });
    route(req, res, outcome).catch((e: unknown) => {
      if (e instanceof CancelledError) return void res.destroy();
      const err = errorOf(e);
      outcome.error = err;
      outcome.cause = e;
      if (res.headersSent) res.destroy();
      else sendJson(req, res, err.status, err.body(), err.headers);
    });
  };

  const server = http.createServer({
    headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs),
    // the whole request must arrive in time; the response (a long generation) has no limit
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, limits.requestTimeoutMs),
  });
  server.on('request', handle);
  // with this listener node leaves `Expect: 100-continue` to us: a body that is too large is refused unsent
  server.on('checkContinue', handle);
  server.maxConnections = limits.maxConnections;
  server.on('drop', (d) =>
    log.log(
      'warning',
      `connection from ${d?.remoteAddress ?? '?'}:${d?.remotePort ?? '?'} closed: ${limits.maxConnections} are open (--max-connections)`,
    ),
  );
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    const code = err.code ?? '';
    if (code !== 'ECONNRESET') log.log('warning', `client error: ${clip(code || err.message)}`);
    if (!socket.writable || code === 'ECONNRESET') return void socket.destroy();
    const status =
      code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? '408 Request Timeout'
        : code === 'HPE_HEADER_OVERFLOW'
          ? '431 Request Header Fields Too Large'
          : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });

  return {
    http: server,
    engine,
    engines: new Map(
      [...contexts].filter(([, c]) => c !== ctx).map(([name, c]) => [name, c.engine]),
    ),
    limits,
    listen(port = 8000, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const a = server.address() as AddressInfo;
          resolve(`http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`);
        });
      });
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function errorOf(e: unknown): OpenAIError {
  if (e instanceof OpenAIError) return e;
  return new OpenAIError(500, `internal error: ${(e as Error)?.message ?? String(e)}`);
}
