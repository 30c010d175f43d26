import * as fs from 'node:fs';
import * as path from 'node:path';
import { RxrlUsageError } from '@rxrl/core/base';
import type { Command } from '../command';
import { displayPath } from '../displayPath';
import { adapterDir, modelDir } from './eval';

/** Tokenizer files copied from the base directory into the merged one. */
const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'chat_template.jinja',
  'vocab.json',
  'merges.txt',
  'generation_config.json',
];

/** `rxrl merge-adapter`: base + PEFT LoRA adapter → a full Hugging Face model directory. */
export const command: Command = {
  name: 'merge-adapter',
  summary: 'Merge a PEFT LoRA adapter into its base model, writing a full model directory',
  usage: 'rxrl merge-adapter --model <base dir> --adapter <dir> --out <dir> [--force]',
  options: {
    model: {
      type: 'string',
      short: 'm',
      valueName: 'dir',
      description:
        "base model directory (default: the adapter's base_model_name_or_path when it is a local directory)",
    },
    adapter: {
      type: 'string',
      valueName: 'dir',
      description: 'PEFT LoRA directory (adapter_config.json, adapter_model.safetensors)',
    },
    out: {
      type: 'string',
      short: 'o',
      valueName: 'dir',
      description: 'directory to write (config.json, model.safetensors, tokenizer files)',
    },
    force: { type: 'boolean', description: 'write into --out even when it is not empty' },
  },
  async run({ values, positionals, global, io }) {
    if (positionals.length > 0) throw new RxrlUsageError(`unexpected argument '${positionals[0]}'`);
    const adapter = adapterDir(values, io.cwd);
    if (adapter === null) throw new RxrlUsageError('missing --adapter <dir>');
    const base = modelDir(values, io.cwd);
    if (typeof values['out'] !== 'string') throw new RxrlUsageError('missing --out <dir>');
    const out = path.resolve(io.cwd, values['out']);
    if (out === base || out === adapter)
      throw new RxrlUsageError(`--out ${values['out']}: that is the base or the adapter directory`);
    if (fs.existsSync(out) && fs.readdirSync(out).length > 0 && values['force'] !== true)
      throw new RxrlUsageError(
        `--out ${displayPath(io.cwd, out)} exists and is not empty; pass --force to write into it`,
      );
    // loaded here, not at the top: the other commands should not pay for TensorFlow.js
    const { selectBackend } = await import('@rxrl/core');
    const { loadPretrained, savePretrained } = await import('@rxrl/model');
    await selectBackend(global.backend ?? null);
    const model = await loadPretrained(base, { adapter });
    try {
      const files = await savePretrained(model, out, { mergeAdapter: true });
      for (const f of TOKENIZER_FILES) {
        const from = path.join(base, f);
        if (fs.existsSync(from)) {
          fs.copyFileSync(from, path.join(out, f));
          files.push(f);
        }
      }
      // what the adapter was trained on (rxrl writes it with every exported adapter) is the merged model's record
      const record = path.join(adapter, 'rxrl_training.json');
      if (fs.existsSync(record)) {
        fs.copyFileSync(record, path.join(out, 'rxrl_training.json'));
        files.push('rxrl_training.json');
      }
      io.out(
        `rxrl: merged ${displayPath(io.cwd, adapter)} into ${displayPath(io.cwd, base)}: wrote ${displayPath(io.cwd, out)} (${files.join(', ')})`,
      );
    } finally {
      model.dispose();
    }
  },
};
