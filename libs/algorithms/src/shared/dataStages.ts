import { map } from 'rxjs';
import { RecordBatch, Schema } from 'apache-arrow';
import { z } from 'zod';
import {
  COLUMNS,
  defineStage,
  listVector,
  makeRecordBatch,
  readInt32Column,
  readListColumn,
  requireService,
  type ColumnInput,
  type Tokenizer,
} from '@rxrl/core/base';
import {
  arrowRowsAt,
  packOptionsSchema,
  packSequences,
  packValues,
  padOptionsSchema,
  padSequences,
  padValues,
  PreferenceTokenizeOptions,
  rowsToRecordBatch,
  SftTokenizeOptions,
  type Row,
} from '@rxrl/data';
import { preferenceBatch } from '../dpo/pairBatch';
import { PAIR_TEXT_SOURCE_COLUMNS } from '../dpo/pairColumns';
import { preferencePairs } from '../dpo/dpoExamples';
import type { DpoDataOptions } from '../dpo/dpoOptions';
import { SFT_SOURCE_COLUMNS, sftBatch } from '../sft/sftBatch';
import { sftExamples } from '../sft/sftExamples';
import type { SftDataOptions } from '../sft/sftOptions';

/** Padded token ids (`data.pad`, `data.pack`): every row of a batch the same length. */
export const INPUT_IDS = 'input_ids';
/** 1 on real tokens, 0 on padding (`data.pad`, `data.pack`). */
export const ATTENTION_MASK = 'attention_mask';
/** Position of each token within its sequence (`data.pad`, `data.pack`). */
export const POSITION_IDS = 'position_ids';
/** 1..k for the k sequences packed into a row, 0 on padding (`data.pack`). */
export const SEGMENT_IDS = 'segment_ids';

/**
 * Rows `indices` of a dataset's raw `rows` as the record batch a graph starting with
 * `data.tokenize` receives: one column per field of the rows (as Arrow infers them),
 * plus `prompt_id`, each row's index in `rows` (pair-scoring stages name the row by it).
 */
export function rawRowsBatch(rows: readonly Row[], indices: readonly number[]): RecordBatch {
  return rowsToRecordBatch(
    indices.map((i) => ({
      source: 'dataset',
      row: i,
      data: { ...rows[i]!, [COLUMNS.promptId]: i },
    })),
  );
}

/** The rows of a raw batch (its `prompt_id` column apart) and their dataset indices. */
function rowsOf(batch: RecordBatch): { rows: Row[]; ids: Int32Array } {
  const all = arrowRowsAt(
    batch,
    Array.from({ length: batch.numRows }, (_, i) => i),
  );
  const ids = batch.getChild(COLUMNS.promptId)
    ? readInt32Column(batch, COLUMNS.promptId)
    : Int32Array.from(all, (_, i) => i);
  const rows = all.map(({ [COLUMNS.promptId]: _id, ...row }) => row);
  return { rows, ids };
}

/** `out` with the schema metadata of `batch` (its step, its data cursor). */
function keepMeta(out: RecordBatch, batch: RecordBatch): RecordBatch {
  const metadata = new Map(batch.schema.metadata);
  for (const [k, v] of out.schema.metadata) metadata.set(k, v);
  return new RecordBatch(new Schema(out.schema.fields, metadata), out.data);
}

const sftTokenizeOptions = SftTokenizeOptions.extend({
  rows: z.literal('sft'),
  /** column with the reference answer (the `answer` column validation scores with) */
  answer_key: z.string().default('answer'),
}).strict();

const preferenceTokenizeOptions = PreferenceTokenizeOptions.extend({
  rows: z.literal('preference'),
  /**
   * also write the pairs' texts, dataset row and scalar fields (`prompt_text`,
   * `chosen_text`, `rejected_text`, `answer`, ...) for a stage that scores pairs (`reward.pair`)
   */
  pair_texts: z.boolean().default(false),
}).strict();

const byRows = { sft: sftTokenizeOptions, preference: preferenceTokenizeOptions } as const;

/**
 * Options of `data.tokenize`: `rows` (`sft`, the default, or `preference`), then the
 * recipe's `data` format keys and `max_length` for that kind of row, checked and
 * filled by its schema (`SftTokenizeOptions` + `answer_key`, or
 * `PreferenceTokenizeOptions` + `pair_texts`). One object (not a zod union) so that the
 * config layer names an unknown key with a "did you mean".
 */
export const dataTokenizeOptionsSchema = z
  .strictObject({
    rows: z.enum(['sft', 'preference']).default('sft'),
    ...Object.fromEntries(
      [...Object.keys(sftTokenizeOptions.shape), ...Object.keys(preferenceTokenizeOptions.shape)]
        .filter((k) => k !== 'rows')
        .map((k) => [k, z.unknown().optional()]),
    ),
  })
  .transform((o, ctx) => {
    const r = byRows[o.rows].safeParse(o);
    if (r.success) return r.data;
    for (const issue of r.error.issues) {
      if (issue.code === 'unrecognized_keys')
        for (const key of issue.keys)
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: `not an option of data.tokenize with rows: ${o.rows}`,
          });
      else ctx.addIssue({ ...issue, code: 'custom', path: issue.path, message: issue.message });
    }
    return z.NEVER;
  });
export type DataTokenizeOptions = z.output<
  typeof sftTokenizeOptions | typeof preferenceTokenizeOptions
>;

/**
 * `data.tokenize`: raw example rows (a record batch of the dataset's fields, with
 * `prompt_id`) → tokenised rows, with the same formats, loss masks and truncation as
 * the recipe's `data` keys give (`sftExamples` / `preferencePairs`, one
 * implementation): SFT rows (`rows: sft`) become `input_tokens`, `loss_mask`,
 * `sample_mask`, `answer`; preference rows (`rows: preference`) become
 * `prompt_tokens`, `chosen_tokens`, `rejected_tokens`, `sample_mask` (and with
 * `pair_texts` the pairs' texts). A row the length limit drops leaves the batch; the
 * batch keeps its metadata (step, cursor).
 */
export const dataTokenizeStage = defineStage({
  name: 'data.tokenize',
  description: "the recipe's rows tokenised: format, loss mask and truncation from its data keys",
  schema: dataTokenizeOptionsSchema,
  requires: [],
  produces: (o: DataTokenizeOptions) =>
    o.rows === 'sft'
      ? [...SFT_SOURCE_COLUMNS]
      : [
          COLUMNS.promptTokens,
          COLUMNS.chosenTokens,
          COLUMNS.rejectedTokens,
          COLUMNS.sampleMask,
          ...(o.pair_texts ? PAIR_TEXT_SOURCE_COLUMNS : []),
        ],
  create(options, context) {
    const tokenizer = requireService<Tokenizer>(context, 'tokenizer', 'data.tokenize');
    const maxLength = options.max_length as number;
    return map((batch: RecordBatch) => {
      const { rows, ids } = rowsOf(batch);
      if (options.rows === 'sft') {
        const { examples } = sftExamples(
          tokenizer,
          rows,
          options as unknown as SftDataOptions,
          maxLength,
        );
        return keepMeta(
          sftBatch(
            examples,
            examples.map((_, i) => i),
          ),
          batch,
        );
      }
      const { pairs } = preferencePairs(
        tokenizer,
        rows,
        options as unknown as DpoDataOptions,
        maxLength,
      );
      const named = pairs.map((p) => ({ ...p, row: ids[p.row!]! }));
      return keepMeta(
        preferenceBatch(
          named,
          named.map((_, i) => i),
          options.pair_texts ? tokenizer : undefined,
        ),
        batch,
      );
    });
  },
});

/** Options of `data.pad` (`padSequences`'). */
export const dataPadOptionsSchema = padOptionsSchema.strict();

/**
 * `data.pad`: each row's `input_tokens` laid out `[batch, seq_len]` (`padSequences`):
 * `input_ids`, `attention_mask`, `position_ids` (every row the same length) and,
 * where the batch has a `loss_mask`, that mask padded with 0 as `loss_mask_padded`.
 * Other columns pass through.
 */
export const dataPadStage = defineStage({
  name: 'data.pad',
  description: 'input_tokens padded to one length: input_ids, attention_mask, position_ids',
  schema: dataPadOptionsSchema,
  requires: [COLUMNS.inputTokens],
  produces: [INPUT_IDS, ATTENTION_MASK, POSITION_IDS],
  create(options) {
    return map((batch: RecordBatch) => {
      const tokens = readListColumn(batch, COLUMNS.inputTokens, 'int32');
      const p = padSequences(tokens, options);
      const offsets = Int32Array.from({ length: p.batch + 1 }, (_, i) => i * p.seqLen);
      const columns: Record<string, ColumnInput> = {};
      for (const f of batch.schema.fields) columns[f.name] = batch.getChild(f.name)!;
      columns[INPUT_IDS] = listVector(p.ids, offsets);
      columns[ATTENTION_MASK] = listVector(p.mask, offsets);
      columns[POSITION_IDS] = listVector(p.positions, offsets);
      if (batch.getChild(COLUMNS.lossMask))
        columns[`${COLUMNS.lossMask}_padded`] = listVector(
          padValues(readListColumn(batch, COLUMNS.lossMask, 'uint8'), p),
          offsets,
        );
      return keepMeta(makeRecordBatch(columns), batch);
    });
  },
});

/** Options of `data.pack` (`packSequences`'). */
export const dataPackOptionsSchema = packOptionsSchema.strict();

/**
 * `data.pack`: the batch's `input_tokens` packed best-fit-decreasing into rows of
 * `max_seq_len` (`packSequences`), boundaries kept: `input_ids`, `segment_ids`,
 * `position_ids` (restarting per sequence), `attention_mask` and, where the batch
 * has one, `loss_mask` laid out the same way. The rows are the packed rows, so the
 * other per-example columns do not pass through.
 */
export const dataPackStage = defineStage({
  name: 'data.pack',
  description: 'input_tokens packed into rows of max_seq_len, sequence boundaries kept',
  schema: dataPackOptionsSchema,
  requires: [COLUMNS.inputTokens],
  produces: [INPUT_IDS, SEGMENT_IDS, POSITION_IDS, ATTENTION_MASK],
  create(options) {
    return map((batch: RecordBatch) => {
      const tokens = readListColumn(batch, COLUMNS.inputTokens, 'int32');
      const p = packSequences(tokens, options);
      const offsets = Int32Array.from({ length: p.batch + 1 }, (_, i) => i * p.seqLen);
      const columns: Record<string, ColumnInput> = {
        [INPUT_IDS]: listVector(p.ids, offsets),
        [SEGMENT_IDS]: listVector(p.segmentIds, offsets),
        [POSITION_IDS]: listVector(p.positions, offsets),
        [ATTENTION_MASK]: listVector(p.mask, offsets),
      };
      if (batch.getChild(COLUMNS.lossMask))
        columns[COLUMNS.lossMask] = listVector(
          packValues(readListColumn(batch, COLUMNS.lossMask, 'uint8'), p),
          offsets,
        );
      return keepMeta(makeRecordBatch(columns), batch);
    });
  },
});

/** `data.tokenize`, `data.pad`, `data.pack`: the data stages a graph may start with. */
export function dataStageDefinitions() {
  return [dataTokenizeStage, dataPadStage, dataPackStage];
}
