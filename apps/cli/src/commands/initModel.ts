import * as fs from 'node:fs';
import * as path from 'node:path';
import { RxrlUsageError } from '@rxrl/core/base';
import type { Command } from '../command';
import { displayPath } from '../displayPath';

function intFlag(values: Record<string, unknown>, name: string): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || !/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n)) {
    throw new RxrlUsageError(`--${name} expects an integer, got '${String(raw)}'`);
  }
  return n;
}

/** Files that make a directory a model: its config, weights or tokenizer. */
const MODEL_FILES =
  /^(config\.json|.*\.safetensors|model\.safetensors\.index\.json|tokenizer\.json)$/;

/** `rxrl init-model`: write a random-weight model directory with the built-in tokenizer. */
export const command: Command = {
  name: 'init-model',
  summary: 'Write a random-weight model directory (config, safetensors, tokenizer)',
  usage:
    'rxrl init-model --arch llama|qwen2|qwen3|gpt2 --preset tiny|small --out <dir> [--vocab-size N] [--seed N] [--force]',
  options: {
    arch: {
      type: 'string',
      valueName: 'arch',
      description: 'architecture: llama, qwen2, qwen3 or gpt2',
    },
    preset: {
      type: 'string',
      valueName: 'preset',
      description: 'size: tiny (d=64, 2 layers) or small (d=256, 4 layers); default tiny',
    },
    out: { type: 'string', short: 'o', valueName: 'dir', description: 'directory to write' },
    'vocab-size': {
      type: 'string',
      valueName: 'N',
      description: "vocabulary size (default: the built-in tokenizer's)",
    },
    seed: { type: 'string', valueName: 'N', description: 'seed of the weight init (default 0)' },
    force: {
      type: 'boolean',
      description: 'replace a model directory that is already at --out (its weights are lost)',
    },
  },
  async run({ values, positionals, global, io }) {
    if (positionals.length > 0) throw new RxrlUsageError(`unexpected argument '${positionals[0]}'`);
    if (typeof values['arch'] !== 'string')
      throw new RxrlUsageError('missing --arch (llama, qwen2, qwen3 or gpt2)');
    if (typeof values['out'] !== 'string') throw new RxrlUsageError('missing --out <dir>');
    const out = path.resolve(io.cwd, values['out']);
    // random weights written over a trained model would lose it with no way back
    if (fs.existsSync(out)) {
      if (!fs.statSync(out).isDirectory())
        throw new RxrlUsageError(`--out ${values['out']}: a file is there, not a directory`);
      const held = fs.readdirSync(out).filter((f) => MODEL_FILES.test(f));
      if (held.length > 0 && values['force'] !== true)
        throw new RxrlUsageError(
          `--out ${values['out']} already holds a model (${held.sort().join(', ')}); pass --force to replace it with random weights, or choose another directory`,
        );
    }
    // loaded here, not at the top: the other commands should not pay for TensorFlow.js
    const { selectBackend } = await import('@rxrl/core');
    const { initModelDirectory } = await import('@rxrl/model');
    const { BuiltinTokenizer } = await import('@rxrl/data');
    await selectBackend(global.backend ?? null);
    const hf = await initModelDirectory(
      {
        arch: values['arch'] as never,
        preset: (values['preset'] as never) ?? 'tiny',
        out,
        vocab_size: intFlag(values, 'vocab-size'),
        seed: intFlag(values, 'seed') ?? 0,
      },
      new BuiltinTokenizer(),
    );
    io.out(
      `rxrl: wrote ${values['arch']} ${values['preset'] ?? 'tiny'} (vocab ${hf['vocab_size']}) to ${displayPath(io.cwd, out)}`,
    );
  },
};
