import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { RxrlUsageError } from '@rxrl/core/base';
import { ArithmeticOptions, ArithmeticTask, type ArithmeticRowKind } from '@rxrl/data';

/** The file, next to an exported model's config.json, that says what the model was trained on. */
export const TRAINING_RECORD_FILE = 'rxrl_training.json';

/**
 * What a policy was trained on, so `rxrl eval --model <dir>` scores the task the
 * model learned (not the task's defaults) and can count how many eval problems the
 * model saw in training.
 */
export interface TrainingRecord {
  /** the algorithm that made the model */
  algorithm: 'sft' | 'dpo' | 'grpo' | 'gkd';
  /** `builtin:arithmetic` or the training file, as the recipe named it */
  dataset: string;
  /** the built-in task's resolved options; null for a file dataset */
  arithmetic: ArithmeticOptions | null;
  /** which row generator drew the training split (each has its own stream) */
  rows: ArithmeticRowKind;
  /** training rows drawn */
  num_train: number;
  /** `policy.model_name` of the run; null for a freshly initialised model */
  start_model: string | null;
  /** the start model's own record, when it had one: what it saw is seen too */
  start: TrainingRecord | null;
}

/** The record written with a model trained from `startModel` (its record, if any, is kept inside). */
export function trainingRecord(
  fields: Omit<TrainingRecord, 'start' | 'arithmetic'> & { arithmetic: unknown },
  baseDir: string,
): TrainingRecord {
  const start =
    fields.start_model === null
      ? null
      : readTrainingRecord(path.resolve(baseDir, fields.start_model));
  return {
    ...fields,
    arithmetic:
      fields.dataset === 'builtin:arithmetic' ? ArithmeticOptions.parse(fields.arithmetic) : null,
    start,
  };
}

export function writeTrainingRecord(modelDir: string, record: TrainingRecord): void {
  writeFileSync(path.join(modelDir, TRAINING_RECORD_FILE), JSON.stringify(record, null, 2) + '\n');
}

/** The record of a model directory, or null when it has none (models made elsewhere). */
export function readTrainingRecord(modelDir: string): TrainingRecord | null {
  const file = path.join(modelDir, TRAINING_RECORD_FILE);
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as TrainingRecord;
  } catch (err) {
    throw new RxrlUsageError(`${file}: not valid JSON (${(err as Error).message})`);
  }
}

/**
 * The prompts a record's model trained on, run by run (the model's own first, then
 * its start model's, ...): the built-in task's training rows drawn again from the
 * same options, seed and stream. Records of file datasets contribute nothing.
 */
export function trainingPrompts(
  record: TrainingRecord | null,
): { algorithm: string; prompts: Set<string> }[] {
  const out: { algorithm: string; prompts: Set<string> }[] = [];
  for (let r = record; r !== null; r = r.start) {
    if (r.arithmetic === null) continue;
    const task = new ArithmeticTask(r.arithmetic);
    const prompts = task.rowProblems(r.rows, 'train', r.num_train).map((p) => p.prompt);
    out.push({ algorithm: r.algorithm, prompts: new Set(prompts) });
  }
  return out;
}
