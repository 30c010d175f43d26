import { z } from 'zod';
import type { Tokenizer } from '@rxrl/core/base';
import { asMessages, cut, leadingSpecials } from './affixes';
import { tokenizeConversation } from './conversation';
import { dataError, type Row } from './fields';
import { FlatListBuilder } from './flatBuilder';
import { tokenizeEach } from './tokenizeEach';
import {
  parsePreferenceRowWith,
  PreferenceFormatOptions,
  type PreferenceExample,
} from './preferenceFormat';
import { throwingGuard, Truncation, type RowGuard, type TokenizeStats } from './truncation';

/** How preference pairs become prompt / chosen / rejected tokens. */
export const PreferenceTokenizeOptions = PreferenceFormatOptions.extend({
  /** Longest prompt + completion in tokens (the longer of chosen and rejected counts). Null: no limit. */
  max_length: z.number().int().positive().nullable().default(1024),
  /**
   * Over-length policy: `truncate_left` cuts the prompt's start, `truncate_right`
   * cuts both completions' ends; a pair that would keep no prompt (left) or no
   * completion token (right) is dropped and counted.
   */
  truncation: Truncation.default('truncate_right'),
  /** Append the tokenizer's EOS to plain-text completions (chat-templated ones end with the template's turn marker). */
  add_eos: z.boolean().default(true),
});
export type PreferenceTokenizeOptions = z.infer<typeof PreferenceTokenizeOptions>;

/** One tokenised pair: the prompt is shared, each completion follows it. */
export interface PreferenceTokens {
  prompt: number[];
  chosen: number[];
  rejected: number[];
}

/**
 * Tokens of one preference pair. Plain strings are tokenised apart (BOS as the
 * tokenizer config says, EOS after each completion); if any part is a message
 * list, the prompt is rendered with the chat template and its generation prompt,
 * and each completion is the rest of the full conversation's rendering.
 */
export function tokenizePreferenceExample(
  tokenizer: Tokenizer,
  example: PreferenceExample,
  options: Partial<PreferenceTokenizeOptions> = {},
  rowIndex?: number,
): PreferenceTokens {
  return tokenizePreferenceWith(
    tokenizer,
    example,
    PreferenceTokenizeOptions.parse(options),
    rowIndex,
  );
}

function tokenizePreferenceWith(
  tokenizer: Tokenizer,
  ex: PreferenceExample,
  o: PreferenceTokenizeOptions,
  rowIndex?: number,
): PreferenceTokens {
  if (
    typeof ex.prompt === 'string' &&
    typeof ex.chosen === 'string' &&
    typeof ex.rejected === 'string'
  ) {
    const eos = o.add_eos && tokenizer.eosTokenId !== null ? [tokenizer.eosTokenId] : [];
    const enc = (s: string) => tokenizer.encode(s, { addSpecialTokens: false });
    return {
      prompt: [...leadingSpecials(tokenizer), ...enc(ex.prompt)],
      chosen: [...enc(ex.chosen), ...eos],
      rejected: [...enc(ex.rejected), ...eos],
    };
  }
  const prompt = asMessages(ex.prompt, 'user');
  const side = (value: PreferenceExample['chosen'], key: string) => {
    const conv = tokenizeConversation(
      tokenizer,
      [...prompt, ...asMessages(value, 'assistant')],
      (i) => i >= prompt.length,
      key,
      rowIndex,
    );
    const split = conv.mask.indexOf(1);
    const at = split < 0 ? conv.tokens.length : split;
    return { prompt: conv.tokens.slice(0, at), completion: conv.tokens.slice(at) };
  };
  const chosen = side(
    ex.chosen,
    o.format === 'context_completions' ? o.completions_key : o.chosen_key,
  );
  const rejected = side(
    ex.rejected,
    o.format === 'context_completions' ? o.completions_key : o.rejected_key,
  );
  // Both sides render the same prompt with the generation prompt; keep one copy,
  // after checking that the template did not render it differently.
  if (
    chosen.prompt.length !== rejected.prompt.length ||
    chosen.prompt.some((id, i) => id !== rejected.prompt[i])
  ) {
    dataError(
      'the chat template renders the prompt differently before the chosen and the rejected completion',
      o.format === 'context_completions' ? o.context_key : o.prompt_key,
      rowIndex,
    );
  }
  return { prompt: chosen.prompt, chosen: chosen.completion, rejected: rejected.completion };
}

/** Preference rows tokenised into the `prompt_tokens` / `chosen_tokens` / `rejected_tokens` columns' arrays. */
export interface PreferenceBatchArrays {
  prompt_tokens: { values: Int32Array; offsets: Int32Array };
  chosen_tokens: { values: Int32Array; offsets: Int32Array };
  rejected_tokens: { values: Int32Array; offsets: Int32Array };
  /** 0 for over-length pairs kept under `truncation: keep`. */
  sample_mask: Float32Array;
  /** Index (within the rows given) of the row each pair came from. */
  row_index: Int32Array;
  stats: TokenizeStats;
}

/** Parse and tokenise preference rows, applying `max_length` / `truncation` (`guard`: see `RowGuard`). */
export function tokenizePreferenceRows(
  tokenizer: Tokenizer,
  rows: Row[],
  options: Partial<PreferenceTokenizeOptions> = {},
  firstRow = 0,
  guard: RowGuard = throwingGuard,
): PreferenceBatchArrays {
  const o = PreferenceTokenizeOptions.parse(options);
  const p = new FlatListBuilder(Int32Array);
  const c = new FlatListBuilder(Int32Array);
  const r = new FlatListBuilder(Int32Array);
  const side = (e: PreferenceTokens) => Math.max(e.chosen.length, e.rejected.length);
  const { stats, sample_mask, row_index } = tokenizeEach(rows, o, guard, {
    tokenize: (row, i) =>
      tokenizePreferenceWith(
        tokenizer,
        parsePreferenceRowWith(row, o, firstRow + i),
        o,
        firstRow + i,
      ),
    length: (e) => e.prompt.length + side(e),
    // truncate_left shortens the prompt, truncate_right both completions; a pair with no
    // room left for one token of what is kept is dropped
    cut: (e, max, keepStart) =>
      keepStart
        ? max - e.prompt.length >= 1
          ? {
              ...e,
              chosen: cut(e.chosen, max - e.prompt.length, true),
              rejected: cut(e.rejected, max - e.prompt.length, true),
            }
          : null
        : max - side(e) >= 1
          ? { ...e, prompt: cut(e.prompt, max - side(e), false) }
          : null,
    emit: ({ prompt, chosen, rejected }) => {
      p.push(prompt);
      c.push(chosen);
      r.push(rejected);
      return prompt.length + chosen.length + rejected.length;
    },
  });
  return {
    prompt_tokens: p.finish(),
    chosen_tokens: c.finish(),
    rejected_tokens: r.finish(),
    sample_mask,
    row_index,
    stats,
  };
}
