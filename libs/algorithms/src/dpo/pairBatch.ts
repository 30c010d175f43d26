import * as tf from '@tensorflow/tfjs-core';
import type { RecordBatch } from 'apache-arrow';
import {
  COLUMNS,
  listVectorFromRows,
  makeRecordBatch,
  readFloat32Column,
  readListColumn,
  type Tokenizer,
} from '@rxrl/core/base';
import type { CausalLM } from '@rxrl/model';
import {
  lmBatchArrays,
  lmBatchTensors,
  type LmBatchArrays,
  type LmSequence,
} from '../shared/lmBatch';
import type { PreferencePair } from './dpoExamples';
import { PAIR_TEXT_SOURCE_COLUMNS, pairTextColumns } from './pairColumns';

/**
 * Both sides of `pairs` as one right-padded next-token batch: rows 0..m-1 are
 * prompt+chosen, rows m..2m-1 prompt+rejected; the loss mask covers the
 * completion tokens only. One forward pass scores both sides.
 */
export function pairBatchArrays(
  pairs: readonly PreferencePair[],
  padTokenId: number,
): LmBatchArrays {
  const side = (p: PreferencePair, c: Int32Array): LmSequence => {
    const tokens = new Int32Array(p.prompt.length + c.length);
    tokens.set(p.prompt);
    tokens.set(c, p.prompt.length);
    const mask = new Uint8Array(tokens.length);
    mask.fill(1, p.prompt.length);
    return { tokens, mask };
  };
  return lmBatchArrays(
    [...pairs.map((p) => side(p, p.chosen)), ...pairs.map((p) => side(p, p.rejected))],
    padTokenId,
  );
}

/** Per-token log-probs [2m, T] of a pair batch under `model` (the caller disposes). */
export function pairTokenLogps(model: CausalLM, a: LmBatchArrays): tf.Tensor2D {
  return tf.tidy(() => {
    const t = lmBatchTensors(a);
    return model.tokenLogProbs(t.ids, t.attention, t.targets);
  });
}

/** Split a [2m, T] pair-batch tensor into its chosen and rejected halves. */
export function splitPairs<T extends tf.Tensor2D>(
  x: T,
): { chosen: tf.Tensor2D; rejected: tf.Tensor2D } {
  const m = x.shape[0] / 2;
  return { chosen: tf.slice(x, [0, 0], [m, -1]), rejected: tf.slice(x, [m, 0], [m, -1]) };
}

/**
 * Columns of the preference batches a run's graph receives: the tokens and weights,
 * and for a graph with a stage that reads them ({@link graphReadsPairTexts}) the
 * pairs' texts, `answer` and the rows' other scalar fields ({@link PAIR_TEXT_SOURCE_COLUMNS}).
 */
export const PREFERENCE_SOURCE_COLUMNS = [
  COLUMNS.promptTokens,
  COLUMNS.chosenTokens,
  COLUMNS.rejectedTokens,
  COLUMNS.sampleMask,
  ...PAIR_TEXT_SOURCE_COLUMNS,
];

/**
 * Pairs `indices` of `pairs` as one record batch: `prompt_tokens`, `chosen_tokens`,
 * `rejected_tokens`, `sample_mask` (the weight); with `texts`, the text columns too,
 * decoded with that tokenizer ({@link pairTextColumns}).
 */
export function preferenceBatch(
  pairs: readonly PreferencePair[],
  indices: readonly number[],
  texts?: Tokenizer,
): RecordBatch {
  const rows = indices.map((i) => pairs[i]!);
  const column = (side: 'prompt' | 'chosen' | 'rejected') =>
    listVectorFromRows(rows.map((p) => p[side]));
  return makeRecordBatch({
    [COLUMNS.promptTokens]: column('prompt'),
    [COLUMNS.chosenTokens]: column('chosen'),
    [COLUMNS.rejectedTokens]: column('rejected'),
    [COLUMNS.sampleMask]: Float32Array.from(rows, (p) => p.weight),
    ...(texts ? pairTextColumns(rows, texts) : {}),
  });
}

/** The pairs of a preference batch (views of its columns, no copy). */
export function pairsOf(batch: RecordBatch): PreferencePair[] {
  const list = (name: string) => readListColumn(batch, name, 'int32');
  const [prompt, chosen, rejected] = [
    list(COLUMNS.promptTokens),
    list(COLUMNS.chosenTokens),
    list(COLUMNS.rejectedTokens),
  ];
  const weight = readFloat32Column(batch, COLUMNS.sampleMask);
  const row = (c: { values: Int32Array; offsets: Int32Array }, i: number) =>
    c.values.subarray(c.offsets[i]!, c.offsets[i + 1]!);
  return Array.from({ length: batch.numRows }, (_, i) => ({
    prompt: row(prompt, i),
    chosen: row(chosen, i),
    rejected: row(rejected, i),
    weight: weight[i]!,
  }));
}
