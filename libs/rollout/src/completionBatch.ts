import type { RecordBatch, Vector } from 'apache-arrow';
import {
  COLUMNS,
  RxrlDataError,
  dictionaryUtf8Vector,
  getColumn,
  int32Vector,
  listVector,
  makeRecordBatch,
  readInt32Column,
  utf8Vector,
} from '@rxrl/core/base';
import type { FinishReason } from './generate';
import { repeatRows } from './repeatRows';

/** The columns every generation stage (local or remote) adds. */
const COMPLETION_COLUMNS = [
  COLUMNS.groupId,
  COLUMNS.completionTokens,
  COLUMNS.completionText,
  COLUMNS.genLogprobs,
  COLUMNS.finishReason,
];

/** What a generation stage knows of one sample, wherever it was generated. */
export interface CompletionSample {
  completionTokens: Int32Array;
  completionText: string;
  genLogprobs: Float32Array;
  finishReason: FinishReason;
}

/** A stage adds columns and never rewrites them: refuse a batch that already has one of ours. */
export function assertNoCompletionColumns(batch: RecordBatch, stage: string): void {
  for (const name of COMPLETION_COLUMNS) {
    if (batch.getChild(name)) {
      throw new RxrlDataError(
        `${stage}: input batch already has column '${name}', which this stage writes`,
        { field: name },
      );
    }
  }
}

/**
 * The group of each prompt row: its `prompt_id` when the batch has one, else a
 * running index starting at `nextRunningId` (the caller advances it by the row count).
 */
export function groupIds(batch: RecordBatch, nextRunningId: number): Int32Array {
  if (batch.getChild(COLUMNS.promptId)) return readInt32Column(batch, COLUMNS.promptId);
  return Int32Array.from({ length: batch.numRows }, (_, r) => nextRunningId + r);
}

/**
 * The input rows repeated `n` times (prompt-major, matching `samples`) plus the
 * generated columns: `group_id` (from `groups`, one per prompt row),
 * `completion_tokens`, `completion_text`, `gen_logprobs` and `finish_reason`.
 */
export function appendCompletions(
  batch: RecordBatch,
  samples: readonly CompletionSample[],
  groups: Int32Array,
  n: number,
): { batch: RecordBatch; tokens: number } {
  const index = new Int32Array(batch.numRows * n);
  for (let i = 0; i < index.length; i++) index[i] = Math.floor(i / n);
  const columns: Record<string, Vector> = {};
  for (const field of batch.schema.fields)
    columns[field.name] = repeatRows(getColumn(batch, field.name), index, field.name);
  const offsets = new Int32Array(samples.length + 1);
  for (let i = 0; i < samples.length; i++)
    offsets[i + 1] = offsets[i]! + samples[i]!.completionTokens.length;
  const tokens = new Int32Array(offsets[samples.length]!);
  const logprobs = new Float32Array(tokens.length);
  samples.forEach((s, i) => {
    tokens.set(s.completionTokens, offsets[i]!);
    logprobs.set(s.genLogprobs, offsets[i]!);
  });
  const groupIds = new Int32Array(samples.length);
  for (let i = 0; i < samples.length; i++) groupIds[i] = groups[index[i]!]!;
  columns[COLUMNS.groupId] = int32Vector(groupIds);
  columns[COLUMNS.completionTokens] = listVector(tokens, offsets);
  columns[COLUMNS.completionText] = utf8Vector(samples.map((s) => s.completionText));
  columns[COLUMNS.genLogprobs] = listVector(logprobs, offsets.slice());
  columns[COLUMNS.finishReason] = dictionaryUtf8Vector(samples.map((s) => s.finishReason));
  return { batch: makeRecordBatch(columns, batch.schema.metadata), tokens: tokens.length };
}
