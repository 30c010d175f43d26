import { filter, map, type OperatorFunction } from 'rxjs';
import type { RecordBatch } from 'apache-arrow';
import {
  COLUMNS,
  RxrlDataError,
  int32Vector,
  listVector,
  makeRecordBatch,
  type ColumnInput,
  type Tokenizer,
} from '@rxrl/core/base';
import { locateErrors } from '../sources/mapRows';
import type { DataRow } from '../sources/row';
import type { RowBatch } from '../sources/batchRows';
import { CURSOR_METADATA_KEY, rowsToRecordBatch } from '../sources/rowsToRecordBatch';
import type { SkipStats } from '../sources/skipStats';
import { tokenizeGrpoRows, type GrpoTokenizeOptions } from './tokenizeGrpo';
import { tokenizePreferenceRows, type PreferenceTokenizeOptions } from './tokenizePreference';
import { tokenizeSftRows, type SftTokenizeOptions } from './tokenizeSft';
import type { Row } from './fields';
import type { RowGuard, TokenizeStats } from './truncation';

/** How a tokenising stage treats bad rows and reports what it did. */
export interface TokenizeStageHooks {
  /** Skip rows whose fields or template rendering are invalid (counted in `skipStats` and in the stats) instead of failing. */
  skip_invalid?: boolean;
  /** Where skipped rows are counted (reason `invalid_format`), shared with the source's. */
  skipStats?: SkipStats;
  /** Called with each batch's counts (rows, drops, truncations, masked rows, tokens). */
  onStats?: (stats: TokenizeStats) => void;
}

function guardFor(rows: readonly DataRow[], hooks: TokenizeStageHooks): RowGuard {
  return (i, work) => {
    try {
      return locateErrors(rows[i]!, () => work());
    } catch (e) {
      if (hooks.skip_invalid && e instanceof RxrlDataError) {
        hooks.skipStats?.skip('invalid_format', e);
        return undefined;
      }
      throw e;
    }
  };
}

function metadata(batch: RowBatch): Map<string, string> | undefined {
  return batch.cursor ? new Map([[CURSOR_METADATA_KEY, JSON.stringify(batch.cursor)]]) : undefined;
}

function promptIds(rows: readonly DataRow[], index: Int32Array): Int32Array {
  return Int32Array.from(index, (i) => rows[i]!.row);
}

/**
 * The stage shape the tokenisers share: each row batch tokenised by `tokenizeRows`
 * (bad rows through the hooks' guard), its counts reported, its arrays made columns
 * (with the batch's cursor as metadata); batches whose rows were all dropped are not emitted.
 */
function tokenizeStage<A extends { stats: TokenizeStats }>(
  tokenizeRows: (rows: Row[], guard: RowGuard) => A,
  columns: (out: A, batch: RowBatch) => Record<string, ColumnInput>,
  hooks: TokenizeStageHooks,
): OperatorFunction<RowBatch, RecordBatch> {
  return (source) =>
    source.pipe(
      map((batch) => {
        const out = tokenizeRows(
          batch.rows.map((r) => r.data),
          guardFor(batch.rows, hooks),
        );
        hooks.onStats?.(out.stats);
        return makeRecordBatch(columns(out, batch), metadata(batch));
      }),
      filter((b) => b.numRows > 0),
    );
}

/**
 * Stage: row batches of SFT rows → record batches with `prompt_id`, `input_tokens`,
 * `loss_mask` and `sample_mask`. Batches whose rows were all dropped are not emitted.
 */
export function tokenizeSft(
  tokenizer: Tokenizer,
  options: Partial<SftTokenizeOptions> = {},
  hooks: TokenizeStageHooks = {},
): OperatorFunction<RowBatch, RecordBatch> {
  return tokenizeStage(
    (rows, guard) => tokenizeSftRows(tokenizer, rows, options, 0, guard),
    (out, batch) => ({
      [COLUMNS.promptId]: promptIds(batch.rows, out.row_index),
      [COLUMNS.inputTokens]: listVector(out.input_tokens.values, out.input_tokens.offsets),
      [COLUMNS.lossMask]: listVector(out.loss_mask.values, out.loss_mask.offsets),
      [COLUMNS.sampleMask]: out.sample_mask,
    }),
    hooks,
  );
}

/** Stage: preference rows → `prompt_id`, `prompt_tokens`, `chosen_tokens`, `rejected_tokens`, `sample_mask`. */
export function tokenizePreference(
  tokenizer: Tokenizer,
  options: Partial<PreferenceTokenizeOptions> = {},
  hooks: TokenizeStageHooks = {},
): OperatorFunction<RowBatch, RecordBatch> {
  return tokenizeStage(
    (rows, guard) => tokenizePreferenceRows(tokenizer, rows, options, 0, guard),
    (out, batch) => ({
      [COLUMNS.promptId]: promptIds(batch.rows, out.row_index),
      [COLUMNS.promptTokens]: listVector(out.prompt_tokens.values, out.prompt_tokens.offsets),
      [COLUMNS.chosenTokens]: listVector(out.chosen_tokens.values, out.chosen_tokens.offsets),
      [COLUMNS.rejectedTokens]: listVector(out.rejected_tokens.values, out.rejected_tokens.offsets),
      [COLUMNS.sampleMask]: out.sample_mask,
    }),
    hooks,
  );
}

/**
 * Stage: GRPO prompt rows → `prompt_id`, `prompt_tokens`, `prompt_text`, `answer`,
 * `sample_mask`, plus every other column of the rows (for the reward stage).
 */
export function tokenizeGrpo(
  tokenizer: Tokenizer,
  options: Partial<GrpoTokenizeOptions> = {},
  hooks: TokenizeStageHooks = {},
): OperatorFunction<RowBatch, RecordBatch> {
  return tokenizeStage(
    (rows, guard) => tokenizeGrpoRows(tokenizer, rows, options, 0, guard),
    (out, batch) => {
      const columns: Record<string, ColumnInput> = {
        [COLUMNS.promptId]: int32Vector(promptIds(batch.rows, out.row_index)),
        [COLUMNS.promptTokens]: listVector(out.prompt_tokens.values, out.prompt_tokens.offsets),
        [COLUMNS.promptText]: out.prompt_text,
        [COLUMNS.answer]: out.answer,
        [COLUMNS.sampleMask]: out.sample_mask,
      };
      if (out.extra.length > 0) {
        const kept = Array.from(out.row_index, (i) => batch.rows[i]!);
        const extra = rowsToRecordBatch(kept.map((r, k) => ({ ...r, data: out.extra[k]! })));
        for (const field of extra.schema.fields) {
          if (field.name in columns) {
            throw new RxrlDataError(
              `GRPO rows carry a column "${field.name}" that the tokeniser writes itself; rename it`,
              {
                field: field.name,
              },
            );
          }
          columns[field.name] = extra.getChild(field.name)!;
        }
      }
      return columns;
    },
    hooks,
  );
}
