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

/** `--adapter DIR` resolved and checked to hold a PEFT adapter_config.json; null when absent. */
export function adapterDir(values: Values, cwd: string): string | null {
  const raw = values['adapter'];
  if (raw === undefined) return null;
  if (typeof raw !== 'string') throw new RxrlUsageError('--adapter expects a directory');
  const dir = path.resolve(cwd, raw);
  if (!fs.existsSync(path.join(dir, 'adapter_config.json')))
    throw new RxrlUsageError(
      `--adapter ${raw}: no adapter_config.json in ${dir} (a PEFT LoRA directory)`,
    );
  return dir;
}

/** `base_model_name_or_path` of a PEFT adapter directory when it names a local model directory. */
function adapterBase(adapter: string): string | null {
  try {
    const cfg = JSON.parse(fs.readFileSync(path.join(adapter, 'adapter_config.json'), 'utf8'));
    const base = cfg?.base_model_name_or_path;
    if (typeof base !== 'string') return null;
    const dir = path.resolve(adapter, base);
    return fs.existsSync(path.join(dir, 'config.json')) ? dir : null;
  } catch {
    return null;
  }
}

/** The `--adapter` flag of the commands that load a model. */
export const adapterOption = {
  type: 'string',
  valueName: 'dir',
  description:
    'a PEFT LoRA adapter directory (adapter_config.json, adapter_model.safetensors) applied to --model; without --model, its base_model_name_or_path when that is a local directory',
} as const;

/**
 * `--model DIR` resolved and checked to hold a config.json; without it, the
 * local base directory that `--adapter`'s adapter_config.json names.
 */
export function modelDir(values: Values, cwd: string): string {
  if (typeof values['model'] !== 'string') {
    const adapter = adapterDir(values, cwd);
    const base = adapter === null ? null : adapterBase(adapter);
    if (base !== null) return base;
    throw new RxrlUsageError(
      adapter === null
        ? 'missing --model <dir> (a model directory: config.json, model.safetensors, tokenizer files)'
        : `missing --model <dir>: the adapter's base_model_name_or_path is not a local model directory`,
    );
  }
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
  const adapter = adapterDir(values, io.cwd);
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
  let arithmetic: Record<string, unknown> | null = null;
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
  if (values['n'] !== undefined && values['num-generations'] !== undefined)
    throw new RxrlUsageError('--n and --num-generations are the same flag; give one');
  // --n, as `rxrl generate` names it; --num-generations is kept for older scripts
  const n = intFlag(values, 'n', 1, 1024) ?? intFlag(values, 'num-generations', 1, 1024) ?? 1;
  const seed = intFlag(values, 'seed', 0, 0xffffffff) ?? 0;
  const batchSize = intFlag(values, 'batch-size', 1, 4096) ?? 32;
  const nShow = intFlag(values, 'show', 0, 1_000_000) ?? 3;
  const chat = values['chat'] === true;
  // where --out writes is settled before the evaluation, so a bad path fails in a second
  const out =
    typeof values['out'] === 'string'
      ? outFile(path.resolve(io.cwd, values['out']), modelName(dir), builtin ? split : 'file')
      : null;

  // loaded here, not at the top: the other commands should not pay for TensorFlow.js
  const { selectBackend } = await import('@rxrl/core');
  const { countParameters, inspectPretrained, loadPretrained } = await import('@rxrl/model');
  const { ArithmeticTask, HfTokenizer, operandDigits, readSource } = await import('@rxrl/data');
  const { grpoDataSchema, readTrainingRecord, tokenizePrompts, trainingPrompts } =
    await import('@rxrl/algorithms');
  const { generate } = await import('@rxrl/rollout');
  const { mathReward, mathRewardOptions } = await import('@rxrl/reward');
  const { lastValueFrom, toArray } = await import('rxjs');

  // config.json, tokenizer.json, the index and every header are checked before the backend
  // starts or any weight is read: a bad directory exits 2 at once
  const info = await inspectPretrained(dir);

  // an adapter trained by rxrl records its own training; otherwise the base's record stands
  const recordDir = adapter !== null && readTrainingRecord(adapter) !== null ? adapter : dir;
  const record = readTrainingRecord(recordDir);
  let rows: Record<string, unknown>[];
  if (builtin) {
    // the task the model trained on, as recorded with it, unless --arithmetic says otherwise
    const recorded = record?.arithmetic ?? null;
    const options = arithmetic ?? recorded ?? {};
    io.out(
      `rxrl eval: task ${taskLine(new ArithmeticTask({ ...options, chat }).options)} (${arithmetic !== null ? '--arithmetic' : recorded !== null ? `the task ${displayPath(io.cwd, recordDir)} was trained on` : 'the built-in defaults: the model records no training task; --arithmetic to choose'})`,
    );
    rows = new ArithmeticTask({ ...options, chat }).grpoRows(split, maxSamples);
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

  await selectBackend(global.backend ?? null, { parameters: countParameters(info.config).total });
  const model = await loadPretrained(dir, { adapter });
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
    const tempNote = values['temperature'] === undefined ? ' (default: greedy)' : '';
    io.out(
      `rxrl eval: ${displayPath(io.cwd, dir)}${adapter ? ` + adapter ${displayPath(io.cwd, adapter)}` : ''} on ${dataset}${builtin ? ` (${split})` : ''}: ${nPrompts} prompts × ${n} generation${n > 1 ? 's' : ''}, temperature ${temperature}${tempNote}, max_new_tokens ${maxNew} (${seconds.toFixed(1)} s)`,
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
    // the question each prompt asks, as the task writes it ("12+7="), for difficulty and overlap
    const questions = rows.map((r) => questionOf(r[data.prompt_key] ?? r['messages']));
    const digits = questions.map((q) => (q === null ? null : operandDigits(q)));
    if (digits.every((d) => d !== null)) {
      const groups = new Map<string, { k: number; n: number }>();
      for (const r of records) {
        const key = `${digits[r.prompt_index]!.join(',')} digits`;
        const g = groups.get(key) ?? { k: 0, n: 0 };
        g.n++;
        if (r.correct) g.k++;
        groups.set(key, g);
      }
      io.out('accuracy by operand digits:');
      for (const [key, g] of [...groups].sort(([a], [b]) => a.localeCompare(b)))
        io.out(`  ${key}: ${(g.k / g.n).toFixed(4)} (${g.k}/${g.n})`);
    }
    const seen = trainingPrompts(record);
    if (seen.length === 0) {
      io.out('seen in training: unknown (the model records no built-in training task)');
    } else {
      const parts = seen.map(({ algorithm, prompts: trained }, i) => {
        const hits = questions.filter((q) => q !== null && trained.has(q)).length;
        return `${hits} of ${nPrompts} eval problems occur among the ${trained.size} distinct ${algorithm} training problems${i === 0 ? '' : ' of an earlier run it started from'}`;
      });
      io.out(`seen in training: ${parts.join('; ')}`);
    }
    if (out !== null) {
      const existed = fs.existsSync(out);
      fs.writeFileSync(out, records.map((r) => JSON.stringify(r) + '\n').join(''));
      io.err(
        `rxrl: wrote ${records.length} samples to ${displayPath(io.cwd, out)}${existed ? ' (replacing the file that was there)' : ''}`,
      );
    }
  } finally {
    model.dispose();
  }
}

/**
 * The file `--out` names: a path as given, or inside an existing directory
 * `eval-<model>-<split>.jsonl` (the first free name). Its directory is made now.
 */
export function outFile(target: string, model: string, split: string): string {
  if (fs.existsSync(target) && fs.statSync(target).isDirectory()) {
    const stem = path.join(target, `eval-${model}-${split}`);
    for (let i = 1; ; i++) {
      const file = i === 1 ? `${stem}.jsonl` : `${stem}-${i}.jsonl`;
      if (!fs.existsSync(file)) return file;
    }
  }
  const parent = path.dirname(target);
  try {
    fs.mkdirSync(parent, { recursive: true });
  } catch (err) {
    throw new RxrlUsageError(
      `--out ${target}: cannot create its directory ${parent} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  if (!fs.statSync(parent).isDirectory())
    throw new RxrlUsageError(`--out ${target}: ${parent} is not a directory`);
  return target;
}

/** A model directory's name for a file name: a run's `policy` / `final_model` is named with its run. */
function modelName(dir: string): string {
  const base = path.basename(dir);
  return base === 'policy' || base === 'final_model'
    ? `${path.basename(path.dirname(dir))}-${base}`
    : base;
}

/** The task's prompt text of a row's prompt: a string, or a message list's last user message. */
function questionOf(prompt: unknown): string | null {
  if (typeof prompt === 'string') return prompt;
  if (Array.isArray(prompt)) {
    const last = prompt.filter((m) => (m as { role?: unknown }).role === 'user').at(-1) as
      { content?: unknown } | undefined;
    return typeof last?.content === 'string' ? last.content : null;
  }
  return null;
}

/** `+ - on 1-2 digit operands (uniform), seed 0`: what an eval on the built-in task scores. */
function taskLine(o: {
  operators: string[];
  min_digits: number;
  max_digits: number;
  min_operands: number;
  max_operands: number;
  operand_sampling: string;
  seed: number;
}): string {
  const operands =
    o.min_operands === o.max_operands ? `${o.min_operands}` : `${o.min_operands}-${o.max_operands}`;
  const digits =
    o.min_digits === o.max_digits ? `${o.min_digits}` : `${o.min_digits}-${o.max_digits}`;
  return `builtin:arithmetic: ${o.operators.join(' ')} over ${operands} operands of ${digits} digits (${o.operand_sampling}), seed ${o.seed}`;
}

/** `rxrl eval`: accuracy (math verifier) of a model directory on a prompt dataset. */
export const command: Command = {
  name: 'eval',
  summary: 'Accuracy of a model directory on a dataset (math verifier)',
  usage:
    'rxrl eval --model <dir> [--adapter <dir>] [--dataset builtin:arithmetic | data.jsonl] [--split validation] [--max-samples N] [--reward math] [--temperature 0] [--max-new-tokens N] [--n N] [--seed N] [--out results.jsonl|DIR]\n  the built-in task defaults to the one the model was trained on (rxrl_training.json beside it)',
  options: {
    model: {
      type: 'string',
      short: 'm',
      valueName: 'dir',
      description: 'model directory (config.json, safetensors, tokenizer.json)',
    },
    adapter: adapterOption,
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
      description: `options of builtin:arithmetic as JSON, e.g. '{"operators":["+","-"]}' (default: the task the model was trained on, else the task's defaults)`,
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
    n: {
      type: 'string',
      valueName: 'N',
      description: 'completions per prompt; above 1 pass@N is printed too (default 1)',
    },
    'num-generations': {
      type: 'string',
      valueName: 'N',
      description: 'the same as --n (kept for older scripts)',
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
      valueName: 'file|dir',
      description:
        'write every scored sample as JSONL to this file, or to eval-<model>-<split>.jsonl inside this directory',
    },
  },
  run: runEval,
};
