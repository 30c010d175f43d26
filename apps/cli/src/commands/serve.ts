import * as fs from 'node:fs';
import * as path from 'node:path';
import { RxrlUsageError, type Tokenizer } from '@rxrl/core/base';
import type { CausalLM } from '@rxrl/model';
import type { RxrlServer } from '@rxrl/rollout';
import { checkInferenceMemory } from '../inferenceMemory';
import type { Command, CommandArgs } from '../command';
import { displayPath } from '../displayPath';
import { WorkerEncoder } from '../serve/workerEncoder';
import { adapterDir, adapterOption, modelDir } from './eval';

// the log levels of `createServer` (`@rxrl/rollout` itself is loaded lazily, with TensorFlow.js)
const LOG_LEVELS = ['off', 'error', 'warning', 'info', 'debug'] as const;
type LogLevel = (typeof LOG_LEVELS)[number];

function intFlag(
  values: CommandArgs['values'],
  name: string,
  min: number,
  max: number,
): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw.trim()) || n < min || n > max) {
    throw new RxrlUsageError(
      `--${name} expects an integer in [${min}, ${max}], got '${String(raw)}'`,
    );
  }
  return n;
}

/** A started `rxrl serve`: its base URL and how to stop it. */
export interface StartedServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Load the model directory and start the server; what `rxrl serve` runs
 * before it waits for Ctrl-C (tests call this and close it themselves).
 */
export async function startServe({
  values,
  positionals,
  global,
  io,
}: CommandArgs): Promise<StartedServer> {
  if (positionals.length > 0) throw new RxrlUsageError(`unexpected argument '${positionals[0]}'`);
  const dir = modelDir(values, io.cwd);
  const adapter = adapterDir(values, io.cwd);
  const loraModules = loraModulesFlag(values, io.cwd);
  const port = intFlag(values, 'port', 0, 65535) ?? 8000;
  const limits = {
    max_num_seqs: intFlag(values, 'max-num-seqs', 1, 4096),
    max_model_len: intFlag(values, 'max-model-len', 2, 1 << 24),
    max_seqs_per_request: intFlag(values, 'max-seqs-per-request', 1, 1 << 20),
    max_queued_seqs: intFlag(values, 'max-queued-seqs', 0, 1 << 24),
    max_body_bytes: intFlag(values, 'max-body-bytes', 1, 2 ** 31 - 1),
    headers_timeout_s: intFlag(values, 'headers-timeout', 1, 3600),
    request_timeout_s: intFlag(values, 'request-timeout', 1, 3600),
    max_connections: intFlag(values, 'max-connections', 1, 1 << 20),
  };
  const logLevel = values['log-level'];
  if (logLevel !== undefined && !LOG_LEVELS.includes(logLevel as LogLevel))
    throw new RxrlUsageError(
      `--log-level expects one of ${LOG_LEVELS.join(', ')}, got '${String(logLevel)}'`,
    );
  const host = typeof values['host'] === 'string' ? values['host'] : '127.0.0.1';
  const name =
    typeof values['served-model-name'] === 'string'
      ? values['served-model-name']
      : path.basename(adapter ?? dir);
  if (loraModules.has(name))
    throw new RxrlUsageError(
      `--lora-modules: '${name}' is already the name of the base model (--served-model-name)`,
    );
  // prompts are tokenised in a worker thread, so a long one does not hold up /health;
  // it starts (loading its own copy of the tokenizer) while the model loads
  const starting = WorkerEncoder.start(dir, (e) =>
    io.err(`rxrl: the tokenizer worker failed (${e.message}); tokenising on the main thread`),
  );
  starting.catch(() => undefined);
  let encoder: WorkerEncoder;
  let model: CausalLM | null = null;
  let tokenizer: Tokenizer;
  // each --lora-modules adapter serves over the same base weights (a view, no copy)
  const adapters: { dispose(): void }[] = [];
  const views = new Map<string, CausalLM>();
  const disposeAll = () => {
    for (const a of adapters) a.dispose();
    model?.dispose();
  };
  // loaded here, not at the top: the other commands should not pay for TensorFlow.js
  const { selectBackend } = await import('@rxrl/core');
  const { countParameters, inspectPretrained, loadPretrained, readPeftAdapter } =
    await import('@rxrl/model');
  const { HfTokenizer } = await import('@rxrl/data');
  const { createServer } = await import('@rxrl/rollout');
  // config.json, tokenizer.json, the index and every header are checked before the backend
  // starts or any weight is read: a bad directory exits 2 at once
  const info = await inspectPretrained(dir);
  let base: CausalLM;
  try {
    const backend = await selectBackend(global.backend ?? null, {
      parameters: countParameters(info.config).total,
    });
    // a KV cache for every sequence decoded together, at up to 1,024 tokens each
    io.out(
      await checkInferenceMemory(
        'serve',
        info.config,
        backend.backend,
        { batch: limits.max_num_seqs ?? 32, maxLen: 1024 },
        io.env,
      ),
    );
    base = model = await loadPretrained(dir, { adapter });
    const ctxLen = base.config.maxPositionEmbeddings;
    if (limits.max_model_len !== undefined && limits.max_model_len > ctxLen)
      throw new RxrlUsageError(
        `--max-model-len ${limits.max_model_len} is larger than the model's context (max_position_embeddings ${ctxLen})`,
      );
    for (const [loraName, loraDir] of loraModules) {
      const read = await readPeftAdapter(base, loraDir);
      adapters.push(read.adapter);
      if (read.biases.size > 0)
        throw new RxrlUsageError(
          `--lora-modules ${loraName}=${displayPath(io.cwd, loraDir)}: the adapter trains biases (bias: ${read.adapter.config.bias}), which would change the shared base; merge it with rxrl merge-adapter and serve that instead`,
        );
      views.set(loraName, base.withAdapter(read.adapter));
    }
    tokenizer = await HfTokenizer.fromDirectory(dir);
    encoder = await starting;
  } catch (e) {
    disposeAll();
    await starting.then(
      (w) => w.close(),
      () => undefined,
    );
    throw e;
  }
  const set = Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined));
  let server: RxrlServer | undefined;
  let url: string;
  try {
    server = createServer(
      base,
      tokenizer,
      {
        served_model_name: name,
        ...set,
        ...(logLevel !== undefined ? { log_level: logLevel as LogLevel } : {}),
      },
      {
        // the LoRA adapters by name: every limit, timeout and log line applies to them too
        extraModels: views,
        log: (line) => io.err(line),
        // should the worker die, the server goes on tokenising in this thread
        encode: (text, addSpecialTokens) =>
          encoder.alive
            ? encoder.encode(text, addSpecialTokens)
            : Promise.resolve(tokenizer.encode(text, { addSpecialTokens })),
      },
    );
    url = await server.listen(port, host);
  } catch (e) {
    await server?.close();
    await encoder.close();
    disposeAll();
    throw e;
  }
  const l = server.limits;
  const what = adapter ? ` + adapter ${displayPath(io.cwd, adapter)}` : '';
  io.out(
    `rxrl: serving '${name}' (${displayPath(io.cwd, dir)}${what}) at ${url}/v1 — OpenAI API: /v1/models, /v1/completions, /v1/chat/completions`,
  );
  for (const [loraName, loraDir] of loraModules)
    io.out(`rxrl: serving LoRA '${loraName}' (${displayPath(io.cwd, loraDir)}) on the same base`);
  io.out(
    `rxrl: limits${loraModules.size > 0 ? ' (each model served)' : ''}: --max-model-len ${l.maxModelLen}, --max-num-seqs ${l.maxNumSeqs}, --max-seqs-per-request ${l.maxSeqsPerRequest}, --max-queued-seqs ${l.maxQueuedSeqs}, --max-body-bytes ${l.maxBodyBytes}, --headers-timeout ${l.headersTimeoutMs / 1000}, --request-timeout ${l.requestTimeoutMs / 1000}, --max-connections ${l.maxConnections}`,
  );
  const running = server;
  return {
    url,
    async close() {
      await running.close();
      await encoder.close();
      disposeAll();
    },
  };
}

/** `--lora-modules name=dir ...` (vLLM's flag): served names → PEFT adapter directories. */
function loraModulesFlag(values: CommandArgs['values'], cwd: string): Map<string, string> {
  const out = new Map<string, string>();
  const raw = values['lora-modules'];
  if (raw === undefined) return out;
  for (const item of raw as string[]) {
    const eq = item.indexOf('=');
    if (eq <= 0 || eq === item.length - 1)
      throw new RxrlUsageError(`--lora-modules expects name=dir, got '${item}'`);
    const name = item.slice(0, eq);
    const dir = path.resolve(cwd, item.slice(eq + 1));
    if (out.has(name))
      throw new RxrlUsageError(`--lora-modules: the name '${name}' is given twice`);
    if (!fs.existsSync(path.join(dir, 'adapter_config.json')))
      throw new RxrlUsageError(
        `--lora-modules ${item}: no adapter_config.json in ${dir} (a PEFT LoRA directory)`,
      );
    out.set(name, dir);
  }
  return out;
}

/** `rxrl serve`: an OpenAI-compatible HTTP server for a model directory, until SIGINT / SIGTERM. */
export const command: Command = {
  name: 'serve',
  summary: 'Serve a model directory over an OpenAI-compatible HTTP API',
  usage:
    'rxrl serve --model <dir> [--adapter <dir>] [--lora-modules name=dir ...] [--host 127.0.0.1] [--port 8000] [--served-model-name NAME] [--max-num-seqs N] [--max-model-len N] [--max-seqs-per-request N] [--max-queued-seqs N] [--max-body-bytes N] [--headers-timeout S] [--request-timeout S] [--max-connections N] [--log-level LEVEL]',
  options: {
    model: {
      type: 'string',
      short: 'm',
      valueName: 'dir',
      description: 'model directory (config.json, safetensors, tokenizer.json)',
    },
    adapter: adapterOption,
    'lora-modules': {
      type: 'string',
      multiple: true,
      valueName: 'name=dir',
      description:
        'more models on the same base: a PEFT LoRA adapter served under its own name (repeatable, as vLLM)',
    },
    host: {
      type: 'string',
      valueName: 'host',
      description: 'address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)',
    },
    port: {
      type: 'string',
      short: 'p',
      valueName: 'port',
      description: 'port (default 8000; 0 picks a free one)',
    },
    'served-model-name': {
      type: 'string',
      valueName: 'name',
      description: "the model name clients pass (default: the directory's name)",
    },
    'max-num-seqs': {
      type: 'string',
      valueName: 'N',
      description: 'most sequences decoded together across requests (default 32)',
    },
    'max-model-len': {
      type: 'string',
      valueName: 'N',
      description:
        "context length: prompt + max_tokens must fit (default and most: the model's max_position_embeddings)",
    },
    'max-seqs-per-request': {
      type: 'string',
      valueName: 'N',
      description:
        'most sequences (prompts × n) one request may ask for; more is a 400 (default 256)',
    },
    'max-queued-seqs': {
      type: 'string',
      valueName: 'N',
      description:
        'most sequences waiting beyond the decoding batch; more is a 503 with Retry-After (default 4 × max(--max-seqs-per-request, --max-num-seqs))',
    },
    'max-body-bytes': {
      type: 'string',
      valueName: 'N',
      description:
        'largest request body, refused with 413 from Content-Length (default 256 KiB + 8 × --max-model-len × --max-seqs-per-request)',
    },
    'headers-timeout': {
      type: 'string',
      valueName: 'S',
      description: 'seconds a client has to send its headers (default 10)',
    },
    'request-timeout': {
      type: 'string',
      valueName: 'S',
      description: 'seconds a client has to send its whole request; not the response (default 30)',
    },
    'max-connections': {
      type: 'string',
      valueName: 'N',
      description: 'most open connections; more are closed at once (default 256)',
    },
    'log-level': {
      type: 'string',
      valueName: 'LEVEL',
      description:
        'off | error | warning | info | debug: info logs one line per request to stderr, warning and error one per refused or failed request (default info)',
    },
  },
  async run(args) {
    const started = await startServe(args);
    const signal = await new Promise<string>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
    });
    args.io.err(`rxrl: ${signal}, shutting down`);
    await started.close();
  },
};
