import type { Tokenizer } from '@rxrl/core/base';
import {
  throwingGuard,
  tokenizeSftRows,
  type Row,
  type RowGuard,
  type TokenizeStats,
} from '@rxrl/data';
import type { LmSequence } from '../shared/lmBatch';
import type { SftDataOptions } from './sftOptions';

/** One tokenised SFT example plus what exact-match validation needs. */
export interface SftExample extends LmSequence {
  tokens: Int32Array;
  mask: Uint8Array;
  /** 0 drops the example from the loss (over-length under truncation `keep`) */
  weight: number;
  /** tokens before the first trained token: what generation is prompted with */
  prompt: Int32Array;
  /** reference answer, when the row has one */
  answer: string | null;
  /** index of the dataset row it came from (what `data.tokenize` re-tokenises it from) */
  row?: number;
}

/** Tokenise SFT rows into training examples (format, loss mask and truncation from `data`). */
export function sftExamples(
  tokenizer: Tokenizer,
  rows: Row[],
  data: SftDataOptions,
  maxLength: number,
  /** what a row the format rejects does: throw (default) or be skipped */
  guard: RowGuard = throwingGuard,
): { examples: SftExample[]; stats: TokenizeStats } {
  const {
    dataset_name: _d,
    val_data_path: _v,
    val_fraction: _f,
    arithmetic: _a,
    num_train_examples: _n,
    num_val_examples: _m,
    shuffle: _s,
    skip_invalid: _i,
    answer_key,
    ...fmt
  } = data;
  const arr = tokenizeSftRows(tokenizer, rows, { ...fmt, max_length: maxLength }, 0, guard);
  const examples: SftExample[] = [];
  const { input_tokens: it, loss_mask: lm } = arr;
  for (let i = 0; i < arr.row_index.length; i++) {
    const tokens = it.values.subarray(it.offsets[i]!, it.offsets[i + 1]!);
    const mask = lm.values.subarray(lm.offsets[i]!, lm.offsets[i + 1]!);
    const first = mask.indexOf(1);
    const answer = rows[arr.row_index[i]!]![answer_key];
    examples.push({
      tokens,
      mask,
      weight: arr.sample_mask[i]!,
      prompt: tokens.subarray(0, first < 0 ? tokens.length : first),
      answer:
        typeof answer === 'string' ? answer : typeof answer === 'number' ? String(answer) : null,
      row: arr.row_index[i]!,
    });
  }
  return { examples, stats: arr.stats };
}
