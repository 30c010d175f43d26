import type { RecordBatch } from 'apache-arrow';
import { Utf8, vectorFromArray, type Vector } from 'apache-arrow';
import {
  COLUMNS,
  listVectorFromRows,
  makeRecordBatch,
  readFloat32Column,
  readListColumn,
} from '@rxrl/core/base';
import type { SftExample } from './sftExamples';

/** Columns of the SFT batches a run's graph receives. */
export const SFT_SOURCE_COLUMNS = [
  COLUMNS.inputTokens,
  COLUMNS.lossMask,
  COLUMNS.sampleMask,
  COLUMNS.answer,
];

/**
 * Examples `indices` of `examples` as one record batch: `input_tokens`, `loss_mask`,
 * `sample_mask` (the example's weight) and `answer` (null where the row has none).
 */
export function sftBatch(examples: readonly SftExample[], indices: readonly number[]): RecordBatch {
  const rows = indices.map((i) => examples[i]!);
  return makeRecordBatch({
    [COLUMNS.inputTokens]: listVectorFromRows(rows.map((e) => e.tokens)),
    [COLUMNS.lossMask]: listVectorFromRows(
      rows.map((e) => e.mask),
      'uint8',
    ),
    [COLUMNS.sampleMask]: Float32Array.from(rows, (e) => e.weight),
    [COLUMNS.answer]: vectorFromArray(
      rows.map((e) => e.answer),
      new Utf8(),
    ) as Vector,
  });
}

/** The examples of an SFT batch (views of its columns, no copy); `answer` is null without that column. */
export function sftExamplesOf(batch: RecordBatch): SftExample[] {
  const tokens = readListColumn(batch, COLUMNS.inputTokens, 'int32');
  const mask = readListColumn(batch, COLUMNS.lossMask, 'uint8');
  const weight = readFloat32Column(batch, COLUMNS.sampleMask);
  const answers = batch.getChild(COLUMNS.answer);
  return Array.from({ length: batch.numRows }, (_, i) => {
    const t = tokens.values.subarray(tokens.offsets[i]!, tokens.offsets[i + 1]!);
    const m = mask.values.subarray(mask.offsets[i]!, mask.offsets[i + 1]!);
    const first = m.indexOf(1);
    return {
      tokens: t,
      mask: m,
      weight: weight[i]!,
      prompt: t.subarray(0, first < 0 ? t.length : first),
      answer: (answers?.get(i) as string | null | undefined) ?? null,
    };
  });
}
