import type { Tokenizer } from '@rxrl/core/base';
import {
  throwingGuard,
  tokenizePreferenceRows,
  type Row,
  type RowGuard,
  type TokenizeStats,
} from '@rxrl/data';
import type { DpoDataOptions } from './dpoOptions';

/** One tokenised preference pair. */
export interface PreferencePair {
  prompt: Int32Array;
  chosen: Int32Array;
  rejected: Int32Array;
  /** 0 drops the pair from the loss (over-length under truncation `keep`) */
  weight: number;
  /** index of the dataset row it came from (the `prompt_id` column) */
  row?: number;
  /** that row: its `answer` and other scalar fields become columns for a graph stage that scores pairs */
  source?: Readonly<Row>;
}

/** Tokenise preference rows into pairs (format and truncation from `data`). */
export function preferencePairs(
  tokenizer: Tokenizer,
  rows: Row[],
  data: DpoDataOptions,
  maxLength: number,
  /** what a row the format rejects does: throw (default) or be skipped */
  guard: RowGuard = throwingGuard,
): { pairs: PreferencePair[]; stats: TokenizeStats } {
  const {
    dataset_name: _d,
    val_data_path: _v,
    val_fraction: _f,
    arithmetic: _a,
    num_train_examples: _n,
    num_val_examples: _m,
    shuffle: _s,
    skip_invalid: _i,
    ...fmt
  } = data;
  const arr = tokenizePreferenceRows(tokenizer, rows, { ...fmt, max_length: maxLength }, 0, guard);
  const list = (c: { values: Int32Array; offsets: Int32Array }, i: number) =>
    c.values.subarray(c.offsets[i]!, c.offsets[i + 1]!);
  const pairs: PreferencePair[] = [];
  for (let i = 0; i < arr.row_index.length; i++) {
    pairs.push({
      prompt: list(arr.prompt_tokens, i),
      chosen: list(arr.chosen_tokens, i),
      rejected: list(arr.rejected_tokens, i),
      weight: arr.sample_mask[i]!,
      row: arr.row_index[i]!,
      source: rows[arr.row_index[i]!],
    });
  }
  return { pairs, stats: arr.stats };
}
