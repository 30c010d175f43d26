// A tiny SFT recipe for the fault tests: a fresh tiny Llama, batches of 4, seconds per run.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CliIo } from '../../src/io';
import { runCli } from '../../src/cli';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

/** Overrides that shrink configs/sft_arithmetic.yaml to a few-second run of `steps` steps. */
export function tinySft(steps: number): string[] {
  return [
    'policy.init={arch: llama, preset: tiny, config_overrides: {hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 2, max_position_embeddings: 32}}',
    'policy.train_global_batch_size=4',
    'policy.train_micro_batch_size=2',
    'policy.scheduler={name: constant}',
    `sft.max_num_steps=${steps}`,
    'sft.val_at_start=false',
    'sft.val_period=0',
    'sft.val_global_batch_size=8',
    'sft.val_micro_batch_size=8',
    'sft.val_generation={num_prompts: 2, max_new_tokens: 2}',
    'data.num_train_examples=64',
    'data.num_val_examples=8',
  ];
}

/** `rxrl <args>` in this process, output collected. */
export async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    out: (t) => void out.push(t),
    err: (t) => void err.push(t),
    env: {},
    cwd: root,
  };
  const code = await runCli(args, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** The rows of a run's metrics.jsonl. */
export function metricsRows(runDir: string): Record<string, number>[] {
  return fs
    .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, number>);
}
