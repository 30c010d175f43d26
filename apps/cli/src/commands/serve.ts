import * as fs from 'node:fs';
import * as path from 'node:path';
import { RxrlUsageError } from '@rxrl/core/base';
import { checkInferenceMemory } from '../inferenceMemory';
import type { Command, CommandArgs } from '../command';
import { displayPath } from '../displayPath';
import { adapterDir, adapterOption, modelDir } from './eval';

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
  const maxNumSeqs = intFlag(values, 'max-num-seqs', 1, 4096);
  const host = typeof values['host'] === 'string' ? values['host'] : '127.0.0.1';
  const name =
    typeof values['served-model-name'] === 'string'
      ? values['served-model-name']
      : path.basename(adapter ?? dir);
  if (loraModules.has(name))
    throw new RxrlUsageError(
      `--lora-modules: '${name}' is already the name of the base model (--served-model-name)`,
    );
  // loaded here, not at the top: the other commands should not pay for TensorFlow.js
  const { selectBackend } = await import('@rxrl/core');
  const { inspectPretrained, loadPretrained, readPeftAdapter } = await import('@rxrl/model');
  const { HfTokenizer } = await import('@rxrl/data');
  const { createServer } = await import('@rxrl/rollout');
  // config.json, tokenizer.json, the index and every header are checked before the backend
  // starts or any weight is read: a bad directory exits 2 at once
  const info = await inspectPretrained(dir);
  const backend = await selectBackend(global.backend ?? null);
  // a KV cache for every sequence decoded together, at up to 1,024 tokens each
  io.out(
    await checkInferenceMemory(
      'serve',
      info.config,
      backend.backend,
      { batch: maxNumSeqs ?? 32, maxLen: 1024 },
      io.env,
    ),
  );
  const model = await loadPretrained(dir, { adapter });
  // each --lora-modules adapter serves over the same base weights (a view, no copy)
  const adapters: { dispose(): void }[] = [];
  const views = new Map<string, typeof model>();
  try {
    for (const [loraName, loraDir] of loraModules) {
      const read = await readPeftAdapter(model, loraDir);
      adapters.push(read.adapter);
      if (read.biases.size > 0)
        throw new RxrlUsageError(
          `--lora-modules ${loraName}=${displayPath(io.cwd, loraDir)}: the adapter trains biases (bias: ${read.adapter.config.bias}), which would change the shared base; merge it with rxrl merge-adapter and serve that instead`,
        );
      views.set(loraName, model.withAdapter(read.adapter));
    }
  } catch (e) {
    for (const a of adapters) a.dispose();
    model.dispose();
    throw e;
  }
  const disposeAll = () => {
    for (const a of adapters) a.dispose();
    model.dispose();
  };
  let server;
  try {
    const tokenizer = await HfTokenizer.fromDirectory(dir);
    server = createServer(
      model,
      tokenizer,
      { served_model_name: name, ...(maxNumSeqs ? { max_num_seqs: maxNumSeqs } : {}) },
      views,
    );
  } catch (e) {
    disposeAll();
    throw e;
  }
  const url = await server.listen(port, host);
  const what = adapter ? ` + adapter ${displayPath(io.cwd, adapter)}` : '';
  io.out(
    `rxrl: serving '${name}' (${displayPath(io.cwd, dir)}${what}) at ${url}/v1 — OpenAI API: /v1/models, /v1/completions, /v1/chat/completions`,
  );
  for (const [loraName, loraDir] of loraModules)
    io.out(`rxrl: serving LoRA '${loraName}' (${displayPath(io.cwd, loraDir)}) on the same base`);
  const running = server;
  return {
    url,
    async close() {
      await running.close();
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
    'rxrl serve --model <dir> [--adapter <dir>] [--lora-modules name=dir ...] [--host 127.0.0.1] [--port 8000] [--served-model-name NAME] [--max-num-seqs N]',
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
