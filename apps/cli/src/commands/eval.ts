import * as fs from 'node:fs';
import * as path from 'node:path';
import { RxrlUsageError } from '@rxrl/core/base';
import type { Command, CommandArgs } from '../command';
import { displayPath } from '../displayPath';

type Values = CommandArgs['values'];

/** A string flag as an integer in [min, max], or undefined when absent. */
export function intFlag(
  values: Values,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^-?\d+$/.test(raw.trim()) || +raw < min || +raw > max) {
    throw new RxrlUsageError(
      `--${name} expects an integer in [${min}, ${max}], got '${String(raw)}'`,
    );
  }
  return Number(raw);
}

/** A string flag as a number in [min, max], or undefined when absent. */
export function numberFlag(
  values: Values,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new RxrlUsageError(
      `--${name} expects a number in [${min}, ${max}], got '${String(raw)}'`,
    );
  }
  return n;
}

/** `--model DIR` resolved and checked to hold a config.json. */
export function modelDir(values: Values, cwd: string): string {
  if (typeof values['model'] !== 'string')
    throw new RxrlUsageError(
      'missing --model <dir> (a model directory: config.json, model.safetensors, tokenizer files)',
    );
  const dir = path.resolve(cwd, values['model']);
  if (!fs.existsSync(path.join(dir, 'config.json')))
    throw new RxrlUsageError(`--model ${values['model']}: no config.json in ${dir}`);
  return dir;
}

/**
 * `max_new_tokens` for prompts up to `longestPrompt` tokens: the flag, else 256
 * capped by the room the model's context leaves (small models have short ones).
 */
export function maxNewTokens(
  flag: number | undefined,
  longestPrompt: number,
  maxPositions: number,
): number {
  if (flag !== undefined) return flag;
  const room = maxPositions - longestPrompt;
  if (room < 1)
    throw new RxrlUsageError(
      `the longest prompt has ${longestPrompt} tokens, which fills the model's max_position_embeddings ${maxPositions}`,
    );
  return Math.min(256, room);
}

/** One scored completion, as written to `--out`. */
interface EvalRecord {
  prompt_index: number;
  generation_index: number;
  prompt: string;
  completion: string;
  answer: string;
  reward: number;
  correct: boolean;
  finish_reason: string;
}

const show = (s: string) => JSON.stringify(s.length > 80 ? `${s.slice(0, 77)}...` : s);

async function runEval({ values, positionals, global, io }: CommandArgs): Promise<void> {
  if (positionals.length > 0) throw new RxrlUsageError(`unexpected argument '${positionals[0]}'`);
  const dir = modelDir(values, io.cwd);
  const dataset = typeof values['dataset'] === 'string' ? values['dataset'] : 'builtin:arithmetic';
  const builtin = dataset === 'builtin:arithmetic';
  if (!builtin && dataset.startsWith('builtin:'))
    throw new RxrlUsageError(
      `--dataset '${dataset}' is not a built-in dataset; expected builtin:arithmetic or a JSONL / Parquet / Arrow file`,
    );
  if (!builtin && !fs.existsSync(path.resolve(io.cwd, dataset)))
    throw new RxrlUsageError(`--dataset ${dataset}: file not found`);
  const split = values['split'] ?? 'validation';
  if (split !== 'validation' && split !== 'train')
    throw new RxrlUsageError(`--split expects validation or train, got '${String(split)}'`);
  if (!builtin && values['split'] !== undefined)
    throw new RxrlUsageError(
      '--split applies to builtin:arithmetic only; a file is evaluated whole',
    );
  let arithmetic: Record<string, unknown> = {};
  if (typeof values['arithmetic'] === 'string') {
    if (!builtin) throw new RxrlUsageError('--arithmetic applies to builtin:arithmetic only');
    try {
      arithmetic = JSON.parse(values['arithmetic']) as Record<string, unknown>;
    } catch {
      throw new RxrlUsageError(
        `--arithmetic expects a JSON object of task options, e.g. '{"operators":["+","-"]}', got '${values['arithmetic']}'`,
      );
    }
    if (arithmetic === null || typeof arithmetic !== 'object' || Array.isArray(arithmetic))
      throw new RxrlUsageError(`--arithmetic expects a JSON object, got '${values['arithmetic']}'`);
  }
  const reward = values['reward'] ?? 'math';
  if (reward !== 'math')
    throw new RxrlUsageError(`--reward expects math (the math verifier), got '${String(reward)}'`);
  const maxSamples = intFlag(values, 'max-samples', 1, 1_000_000) ?? 256;
  const temperature = numberFlag(values, 'temperature', 0, 100) ?? 0;
  const topP = numberFlag(values, 'top-p', Number.MIN_VALUE, 1) ?? 1;
  const maxNewFlag = intFlag(values, 'max-new-tokens', 1, 1_000_000);
  const n = intFlag(values, 'num-generations', 1, 1024) ?? 1;
  const seed = intFlag(values, 'seed', 0, 0xffffffff) ?? 0;
  const batchSize = intFlag(values, 'batch-size', 1, 4096) ?? 32;
  const nShow = intFlag(values, 'show', 0, 1_000_000) ?? 3;
  const chat = values['chat'] === true;

  // loaded here, not at the top: the other commands should not pay for TensorFlow.js
  const { selectBackend } = await import('@rxrl/core');
  const { inspectPretrained, loadPretrained } = await import('@rxrl/model');
  const { ArithmeticTask, HfTokenizer, readSource } = await import('@rxrl/data');
  const { grpoDataSchema, tokenizePrompts } = await import('@rxrl/algorithms');
  const { generate } = await import('@rxrl/rollout');
  const { mathReward, mathRewardOptions } = await import('@rxrl/reward');
  const { lastValueFrom, toArray } = await import('rxjs');

  // config.json, tokenizer.json, the index and every header are checked before the backend
  // starts or any weight is read: a bad directory exits 2 at once
  await inspectPretrained(dir);

  let rows: Record<string, unknown>[];
  if (builtin) {
    rows = new ArithmeticTask({ ...arithmetic, chat }).grpoRows(split, maxSamples);
  } else {
    const read = await lastValueFrom(
      readSource(path.resolve(io.cwd, dataset), { shuffle: false, num_epochs: 1 }).pipe(toArray()),
    );
    rows = read.slice(0, maxSamples).map((r) => r.data as Record<string, unknown>);
  }
  const data = grpoDataSchema.parse({
    dataset_name: null,
    max_input_seq_length: 1_000_000,
    ...(typeof values['prompt-key'] === 'string' ? { prompt_key: values['prompt-key'] } : {}),
    ...(typeof values['answer-key'] === 'string' ? { answer_key: values['answer-key'] } : {}),
  });
  // --chat on a file: plain-string prompts become one user message, rendered like message lists
  if (chat && !builtin)
    rows = rows.map((r) =>
      typeof r[data.prompt_key] === 'string'
        ? { ...r, [data.prompt_key]: [{ role: 'user', content: r[data.prompt_key] }] }
        : r,
    );

  await selectBackend(global.backend ?? null);
  const model = await loadPretrained(dir);
  try {
    const tokenizer = await HfTokenizer.fromDirectory(dir);
    // the GRPO data path: message lists through the chat template, strings as they are
    const prompts = tokenizePrompts(tokenizer, rows, data);
    if (prompts.tokens.length === 0) throw new RxrlUsageError(`--dataset ${dataset}: no prompts`);
    const longest = Math.max(...prompts.tokens.map((t) => t.length));
    const maxNew = maxNewTokens(maxNewFlag, longest, model.config.maxPositionEmbeddings);
    const t0 = performance.now();
    const samples = await generate(model, tokenizer, prompts.tokens, {
      temperature,
      top_p: topP,
      max_new_tokens: maxNew,
      num_generations_per_prompt: n,
      seed,
      generation_batch_size: batchSize,
    });
    const seconds = (performance.now() - t0) / 1000;
    const verify = mathReward();
    const correctReward = mathRewardOptions.parse({}).correct_reward;
    const rewards = await Promise.all(
      samples.map((s) =>
        verify({
          prompt: prompts.text[s.promptIndex]!,
          completion: s.completionText,
          answer: prompts.answer[s.promptIndex]!,
        }),
      ),
    );
    const records: EvalRecord[] = samples.map((s, i) => {
      // no ground truth (an empty answer) scores as wrong: eval counts every prompt
      const r = rewards[i] ?? 0;
      return {
        prompt_index: s.promptIndex,
        generation_index: s.generationIndex,
        prompt: prompts.text[s.promptIndex]!,
        completion: s.completionText,
        answer: prompts.answer[s.promptIndex]!,
        reward: r,
        correct: r === correctReward,
        finish_reason: s.finishReason,
      };
    });
    const nPrompts = prompts.tokens.length;
    const nCorrect = records.filter((r) => r.correct).length;
    const meanReward = records.reduce((a, r) => a + r.reward, 0) / records.length;
    io.out(
      `rxrl eval: ${displayPath(io.cwd, dir)} on ${dataset}${builtin ? ` (${split})` : ''}: ${nPrompts} prompts × ${n} generation${n > 1 ? 's' : ''}, temperature ${temperature}, max_new_tokens ${maxNew} (${seconds.toFixed(1)} s)`,
    );
    for (const r of records.slice(0, nShow))
      io.out(
        `  ${r.correct ? '✓' : '✗'} ${show(r.prompt)} → ${show(r.completion)} (answer ${r.answer})`,
      );
    io.out(`accuracy: ${(nCorrect / records.length).toFixed(4)} (${nCorrect}/${records.length})`);
    io.out(`mean_reward: ${meanReward.toFixed(4)}`);
    if (n > 1) {
      const solved = new Set(records.filter((r) => r.correct).map((r) => r.prompt_index)).size;
      io.out(`pass@${n}: ${(solved / nPrompts).toFixed(4)} (${solved}/${nPrompts})`);
    }
    if (typeof values['out'] === 'string') {
      const out = path.resolve(io.cwd, values['out']);
      fs.mkdirSync(path.dirname(out), { recursive: true });
      fs.writeFileSync(out, records.map((r) => JSON.stringify(r) + '\n').join(''));
      io.err(`rxrl: wrote ${records.length} samples to ${displayPath(io.cwd, out)}`);
    }
  } finally {
    model.dispose();
  }
}

/** `rxrl eval`: accuracy (math verifier) of a model directory on a prompt dataset. */
export const command: Command = {
  name: 'eval',
  summary: 'Accuracy of a model directory on a dataset (math verifier)',
  usage:
    'rxrl eval --model <dir> [--dataset builtin:arithmetic | data.jsonl] [--split validation] [--max-samples N] [--reward math] [--temperature 0] [--max-new-tokens N] [--num-generations N] [--seed N] [--out results.jsonl]',
  options: {
    model: {
      type: 'string',
      short: 'm',
      valueName: 'dir',
      description: 'model directory (config.json, safetensors, tokenizer.json)',
    },
    dataset: {
      type: 'string',
      valueName: 'name|file',
      description:
        'builtin:arithmetic (default) or a JSONL / Parquet / Arrow file of rows with prompt (or messages) and answer',
    },
    split: {
      type: 'string',
      valueName: 'split',
      description: 'split of builtin:arithmetic: validation (default) or train',
    },
    arithmetic: {
      type: 'string',
      valueName: 'json',
      description: `options of builtin:arithmetic as JSON, e.g. '{"operators":["+","-"]}' (the task a model was trained on)`,
    },
    'max-samples': {
      type: 'string',
      valueName: 'N',
      description: 'prompts evaluated (default 256; a file: its first N rows)',
    },
    reward: { type: 'string', valueName: 'name', description: 'reward: math (default)' },
    temperature: {
      type: 'string',
      valueName: 'T',
      description: 'sampling temperature (default 0: greedy)',
    },
    'top-p': { type: 'string', valueName: 'P', description: 'nucleus sampling (default 1)' },
    'max-new-tokens': {
      type: 'string',
      valueName: 'N',
      description: "most tokens per completion (default 256, capped by the model's context)",
    },
    'num-generations': {
      type: 'string',
      valueName: 'N',
      description: 'completions per prompt; above 1 pass@N is printed too (default 1)',
    },
    seed: { type: 'string', valueName: 'N', description: 'sampling seed (default 0)' },
    'batch-size': {
      type: 'string',
      valueName: 'N',
      description: 'sequences decoded together (default 32)',
    },
    chat: {
      type: 'boolean',
      description:
        'render plain-text prompts as a user message with the chat template (message-list prompts always are)',
    },
    'prompt-key': {
      type: 'string',
      valueName: 'key',
      description: 'prompt column of a file (default prompt; messages when absent)',
    },
    'answer-key': {
      type: 'string',
      valueName: 'key',
      description: 'ground-truth column of a file (default answer)',
    },
    show: { type: 'string', valueName: 'N', description: 'samples printed (default 3)' },
    out: {
      type: 'string',
      short: 'o',
      valueName: 'file',
      description: 'write every scored sample as JSONL',
    },
  },
  run: runEval,
};
