import * as fs from 'node:fs';
import * as path from 'node:path';
import { RxrlUsageError } from '@rxrl/core/base';
import { checkInferenceMemory } from '../inferenceMemory';
import type { Command, CommandArgs } from '../command';
import { displayPath } from '../displayPath';

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
  if (typeof values['model'] !== 'string')
    throw new RxrlUsageError(
      'missing --model <dir> (a model directory: config.json, model.safetensors, tokenizer files)',
    );
  const dir = path.resolve(io.cwd, values['model']);
  if (!fs.existsSync(path.join(dir, 'config.json')))
    throw new RxrlUsageError(`--model ${values['model']}: no config.json in ${dir}`);
  const port = intFlag(values, 'port', 0, 65535) ?? 8000;
  const maxNumSeqs = intFlag(values, 'max-num-seqs', 1, 4096);
  const host = typeof values['host'] === 'string' ? values['host'] : '127.0.0.1';
  const name =
    typeof values['served-model-name'] === 'string'
      ? values['served-model-name']
      : path.basename(dir);
  // loaded here, not at the top: the other commands should not pay for TensorFlow.js
  const { selectBackend } = await import('@rxrl/core');
  const { loadPretrained } = await import('@rxrl/model');
  const { HfTokenizer } = await import('@rxrl/data');
  const { createServer } = await import('@rxrl/rollout');
  const backend = await selectBackend(global.backend ?? null);
  // a KV cache for every sequence decoded together, at up to 1,024 tokens each
  io.out(
    await checkInferenceMemory(
      'serve',
      dir,
      backend.backend,
      {
        batch: maxNumSeqs ?? 32,
        maxLen: 1024,
      },
      io.env,
    ),
  );
  const model = await loadPretrained(dir);
  const tokenizer = await HfTokenizer.fromDirectory(dir);
  const server = createServer(model, tokenizer, {
    served_model_name: name,
    ...(maxNumSeqs ? { max_num_seqs: maxNumSeqs } : {}),
  });
  const url = await server.listen(port, host);
  io.out(
    `rxrl: serving '${name}' (${displayPath(io.cwd, dir)}) at ${url}/v1 — OpenAI API: /v1/models, /v1/completions, /v1/chat/completions`,
  );
  return {
    url,
    async close() {
      await server.close();
      model.dispose();
    },
  };
}

/** `rxrl serve`: an OpenAI-compatible HTTP server for a model directory, until SIGINT / SIGTERM. */
export const command: Command = {
  name: 'serve',
  summary: 'Serve a model directory over an OpenAI-compatible HTTP API',
  usage:
    'rxrl serve --model <dir> [--host 127.0.0.1] [--port 8000] [--served-model-name NAME] [--max-num-seqs N]',
  options: {
    model: {
      type: 'string',
      short: 'm',
      valueName: 'dir',
      description: 'model directory (config.json, safetensors, tokenizer.json)',
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
