import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import type { Tokenizer } from '@rxrl/core/base';
import type { CausalLM } from '@rxrl/model';
import { handleChatCompletion } from './chatCompletions';
import { handleCompletion } from './completions';
import { Engine } from './engine';
import { OpenAIError } from './openaiError';
import type { EventSink, ServeContext } from './serveContext';

/** Options of {@link createServer} (vLLM's `serve` flag names). */
export const serveOptionsSchema = z
  .object({
    /** The model name clients pass and /v1/models lists. */
    served_model_name: z.string().min(1).default('rxrl'),
    /** Most sequences decoded together; concurrent requests share batches up to this size. */
    max_num_seqs: z.number().int().min(1).default(32),
    /** Largest request body accepted, in bytes. */
    max_body_bytes: z
      .number()
      .int()
      .min(1)
      .default(16 * 1024 * 1024),
  })
  .strict();
export type ServeOptions = z.infer<typeof serveOptionsSchema>;
export type ServeOptionsInput = z.input<typeof serveOptionsSchema>;

/** A running (or ready) OpenAI-compatible server. */
export interface RxrlServer {
  /** The underlying node:http server. */
  readonly http: http.Server;
  /** The model worker (its queue is shared by every request). */
  readonly engine: Engine;
  /** The workers of the extra models, by served name. */
  readonly engines: ReadonlyMap<string, Engine>;
  /** Start listening (port 0 = any free port); resolves with the base URL, e.g. `http://127.0.0.1:8000`. */
  listen(port?: number, host?: string): Promise<string>;
  /** Stop accepting, drop open connections (in-flight requests fail client-side), resolve when closed. */
  close(): Promise<void>;
}

function readBody(req: http.IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (b: Buffer) => {
      size += b.length;
      if (size > limit) {
        reject(new OpenAIError(413, `request body is larger than ${limit} bytes`));
        req.destroy();
      } else parts.push(b);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * An OpenAI-compatible HTTP server (node:http) for a local model:
 * `GET /v1/models`, `POST /v1/completions`, `POST /v1/chat/completions`
 * (`n`, `logprobs`, `echo`, text or token-id prompts, `stop`, `max_tokens`,
 * `temperature`, `top_p`, `seed`, `stream`), `GET /health`. Requests queue
 * for one model worker that batches whatever is waiting. Errors answer in
 * OpenAI's `{ error: { message, type, param, code } }` shape.
 *
 *
 * `extraModels` are more models served beside the first, each under its own
 * name with its own worker — LoRA adapters over the same base weights
 * (`model.withAdapter(adapter)`), as vLLM's `--lora-modules name=path`; a
 * request picks one by its `model` field.
 *
 * @example
 * const server = createServer(model, tokenizer, { served_model_name: 'policy' });
 * const url = await server.listen(8000, '127.0.0.1'); // then new OpenAI({ baseURL: `${url}/v1`, apiKey: 'none' })
 */
export function createServer(
  model: CausalLM,
  tokenizer: Tokenizer,
  options: ServeOptionsInput = {},
  extraModels: ReadonlyMap<string, CausalLM> = new Map(),
): RxrlServer {
  const opts = serveOptionsSchema.parse(options);
  const created = Math.floor(Date.now() / 1000);
  const contextOf = (m: CausalLM, name: string): ServeContext => ({
    model: m,
    tokenizer,
    engine: new Engine(m, tokenizer, opts.max_num_seqs),
    modelName: name,
    created,
  });
  const ctx = contextOf(model, opts.served_model_name);
  const contexts = new Map([[ctx.modelName, ctx]]);
  for (const [name, m] of extraModels) {
    if (contexts.has(name))
      throw new Error(`createServer: the model name '${name}' is served twice`);
    contexts.set(name, contextOf(m, name));
  }
  const engine = ctx.engine;
  const modelCard = (c: ServeContext) => ({
    id: c.modelName,
    object: 'model',
    created: c.created,
    owned_by: 'rxrl',
    max_model_len: c.model.config.maxPositionEmbeddings,
    ...(c === ctx ? {} : { parent: ctx.modelName }),
  });

  async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/\/+$/, '');
    const method = req.method ?? 'GET';
    if (method === 'GET' && (path === '/health' || path === '/v1/health'))
      return sendJson(res, 200, { status: 'ok' });
    if (method === 'GET' && path === '/v1/models')
      return sendJson(res, 200, { object: 'list', data: [...contexts.values()].map(modelCard) });
    if (method === 'GET' && path.startsWith('/v1/models/')) {
      const name = decodeURIComponent(path.slice('/v1/models/'.length));
      const c = contexts.get(name);
      if (c === undefined)
        throw new OpenAIError(404, `The model \`${name}\` does not exist.`, 'model');
      return sendJson(res, 200, modelCard(c));
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
        `no route ${method} ${path || '/'}; try GET /v1/models, POST /v1/completions or POST /v1/chat/completions`,
      );
    if (method !== 'POST') throw new OpenAIError(405, `${path} expects POST, got ${method}`);
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req, opts.max_body_bytes));
    } catch (e) {
      if (e instanceof OpenAIError) throw e;
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
    if (!stream) return sendJson(res, 200, await handler(target, body, null, () => closed));

    // Validation errors must still be plain JSON errors: open the event stream on the first event only.
    const sink: EventSink = {
      send(event) {
        if (closed) return;
        if (!res.headersSent)
          res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.write(`data: ${JSON.stringify(event)}\n\n`);
      },
      get closed() {
        return closed;
      },
    };
    try {
      await handler(target, body, sink, () => closed);
    } catch (e) {
      if (!res.headersSent) throw e;
      sink.send(errorOf(e).body());
    }
    if (closed) return;
    if (!res.headersSent)
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.end('data: [DONE]\n\n');
  }

  const server = http.createServer((req, res) => {
    route(req, res).catch((e: unknown) => {
      const err = errorOf(e);
      if (res.headersSent) res.destroy();
      else sendJson(res, err.status, err.body());
    });
  });
  // generation can take longer than node's default 5 min request timeout
  server.requestTimeout = 0;

  return {
    http: server,
    engine,
    engines: new Map(
      [...contexts].filter(([, c]) => c !== ctx).map(([name, c]) => [name, c.engine]),
    ),
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
