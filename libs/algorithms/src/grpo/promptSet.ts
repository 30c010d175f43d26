import * as path from 'node:path';
import type { RecordBatch } from 'apache-arrow';
import {
  Rng,
  RxrlConfigError,
  int32Vector,
  listVector,
  makeRecordBatch,
  utf8Vector,
  type Tokenizer,
} from '@rxrl/core/base';
import {
  ArithmeticTask,
  SkipStats,
  throwingGuard,
  tokenizeGrpoRows,
  type RowGuard,
} from '@rxrl/data';
import { locatingGuard, readFileRows } from '../shared/datasetRows';
import type { BatchSource } from '@rxrl/pipeline';
import { grpoTrainFile, isBuiltinArithmetic, type GrpoConfig } from './grpoConfig';

/** Tokenised GRPO prompts with their ground truth, in dataset order. */
export interface PromptSet {
  tokens: Int32Array[];
  text: string[];
  answer: string[];
}

/** Prompt rows → tokens (`max_input_seq_length`, over-length prompts dropped). */
export function tokenizePrompts(
  tokenizer: Tokenizer,
  rows: Record<string, unknown>[],
  data: GrpoConfig['data'],
  /** what a row the format rejects does: throw (default) or be skipped */
  guard: RowGuard = throwingGuard,
): PromptSet {
  const t = tokenizeGrpoRows(
    tokenizer,
    rows,
    {
      prompt_key: data.prompt_key,
      messages_key: data.messages_key,
      answer_key: data.answer_key,
      max_length: data.max_input_seq_length,
      truncation: 'drop',
    },
    0,
    guard,
  );
  const { values, offsets } = t.prompt_tokens;
  const tokens = Array.from({ length: t.answer.length }, (_, i) =>
    values.slice(offsets[i]!, offsets[i + 1]!),
  );
  return { tokens, text: t.prompt_text, answer: t.answer };
}

/**
 * The training and held-out prompts of a recipe: the built-in arithmetic task
 * (`data.arithmetic`, train and validation splits never share a problem) or
 * JSONL / Parquet / Arrow files (`data.dataset_name` or `data.train_data_path`, and
 * `data.val_data_path`).
 */
export async function loadPromptSets(
  config: Pick<GrpoConfig, 'data' | 'grpo'>,
  tokenizer: Tokenizer,
  baseDir = process.cwd(),
  /** rows skipped under `data.skip_invalid` are counted here */
  stats: SkipStats = new SkipStats(),
): Promise<{ train: PromptSet; validation: PromptSet }> {
  const { data, grpo } = config;
  const trainFile = grpoTrainFile(data);
  if (trainFile !== null) {
    const skip = data.skip_invalid;
    const trainRows = await readFileRows(path.resolve(baseDir, trainFile), skip, stats);
    let valRows: Record<string, unknown>[];
    if (data.val_data_path !== null)
      valRows = await readFileRows(path.resolve(baseDir, data.val_data_path), skip, stats);
    else {
      if (trainRows.length <= grpo.max_val_samples) {
        throw new RxrlConfigError(
          `${trainFile} has ${trainRows.length} rows; holding out grpo.max_val_samples = ${grpo.max_val_samples} leaves none to train on (set data.val_data_path)`,
        );
      }
      valRows = trainRows.splice(trainRows.length - grpo.max_val_samples);
    }
    const heldOut = valRows.slice(0, grpo.max_val_samples);
    return {
      train: tokenizePrompts(tokenizer, trainRows, data, locatingGuard(trainRows, skip, stats)),
      validation: tokenizePrompts(tokenizer, heldOut, data, locatingGuard(heldOut, skip, stats)),
    };
  }
  if (!isBuiltinArithmetic(data.dataset_name))
    throw new RxrlConfigError(
      'data: set dataset_name to builtin:arithmetic or a prompt file (or give train_data_path)',
    );
  const task = new ArithmeticTask(data.arithmetic);
  return {
    train: tokenizePrompts(tokenizer, task.grpoRows('train', data.num_train_prompts), data),
    validation: tokenizePrompts(tokenizer, task.grpoRows('validation', grpo.max_val_samples), data),
  };
}

/** A record batch of prompts `indices` of `set`: prompt_id, prompt_tokens, prompt_text, answer. */
export function promptBatch(set: PromptSet, indices: readonly number[]): RecordBatch {
  const offsets = new Int32Array(indices.length + 1);
  indices.forEach((p, i) => (offsets[i + 1] = offsets[i]! + set.tokens[p]!.length));
  const values = new Int32Array(offsets[indices.length]!);
  indices.forEach((p, i) => values.set(set.tokens[p]!, offsets[i]!));
  return makeRecordBatch({
    prompt_id: int32Vector(Int32Array.from(indices)),
    prompt_tokens: listVector(values, offsets),
    prompt_text: utf8Vector(indices.map((p) => set.text[p]!)),
    answer: utf8Vector(indices.map((p) => set.answer[p]!)),
  });
}

/**
 * Training prompts for the runner: each epoch a seeded permutation (identity
 * without `shuffle`), cut into batches of `num_prompts_per_step` (the last partial
 * batch is dropped, as NeMo RL's dataloader does).
 */
export function promptBatches(
  set: PromptSet,
  batchSize: number,
  seed: number,
  shuffle: boolean,
): BatchSource<RecordBatch> {
  const n = set.tokens.length;
  if (n < batchSize) {
    throw new RxrlConfigError(
      `grpo.num_prompts_per_step = ${batchSize}, but there are only ${n} training prompts`,
    );
  }
  return {
    *batches(epoch, position) {
      const order = shuffle
        ? new Rng(seed).fork(`prompts/epoch/${epoch}`).permutation(n)
        : Int32Array.from({ length: n }, (_, i) => i);
      const count = Math.floor(n / batchSize);
      for (let b = position; b < count; b++)
        yield promptBatch(set, Array.from(order.subarray(b * batchSize, (b + 1) * batchSize)));
    },
  };
}
