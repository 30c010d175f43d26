import { z } from 'zod';
import type { Tokenizer } from '@rxrl/core/base';
import { asMessages, cut, leadingSpecials } from './affixes';
import { tokenizeConversation } from './conversation';
import { dataError, type Row } from './fields';
import { FlatListBuilder } from './flatBuilder';
import { tokenizeEach } from './tokenizeEach';
import { parseSftRowWith, SftFormatOptions, type SftExample } from './sftFormat';
import { throwingGuard, Truncation, type RowGuard, type TokenizeStats } from './truncation';

/** How SFT examples become tokens and loss masks. */
export const SftTokenizeOptions = SftFormatOptions.extend({
  /** Longest sequence in tokens; longer ones follow `truncation`. Null: no limit. */
  max_length: z.number().int().positive().nullable().default(1024),
  /** Over-length policy (see `Truncation`). `truncate_right` is TRL's keep_start. */
  truncation: Truncation.default('truncate_right'),
  /**
   * Which tokens train: `all`; `completion_only` (the completion of prompt/completion
   * rows, the final assistant message of conversations); `assistant_only` (every
   * assistant message; the completion of prompt/completion rows);
   * `final_assistant_only` (the last message, which must be the assistant's).
   * Plain `text` rows always train on every token.
   */
  loss_mask: z
    .enum(['all', 'completion_only', 'assistant_only', 'final_assistant_only'])
    .default('assistant_only'),
  /** Append the tokenizer's EOS to plain-text examples (not chat-templated ones, whose template ends turns). */
  add_eos: z.boolean().default(true),
});
export type SftTokenizeOptions = z.infer<typeof SftTokenizeOptions>;

/** One tokenised SFT example. */
export interface SftTokens {
  tokens: number[];
  /** 1 where the token is a training target. */
  mask: number[];
}

/** Tokens and loss mask of one SFT example, before truncation. */
export function tokenizeSftExample(
  tokenizer: Tokenizer,
  example: SftExample,
  options: Partial<SftTokenizeOptions> = {},
  rowIndex?: number,
): SftTokens {
  return tokenizeSftExampleWith(tokenizer, example, SftTokenizeOptions.parse(options), rowIndex);
}

function tokenizeSftExampleWith(
  tokenizer: Tokenizer,
  example: SftExample,
  o: SftTokenizeOptions,
  rowIndex?: number,
): SftTokens {
  const eos = o.add_eos && tokenizer.eosTokenId !== null ? [tokenizer.eosTokenId] : [];
  if (example.kind === 'text') {
    const tokens = [
      ...leadingSpecials(tokenizer),
      ...tokenizer.encode(example.text, { addSpecialTokens: false }),
      ...eos,
    ];
    return { tokens, mask: tokens.map(() => 1) };
  }
  if (
    example.kind === 'prompt_completion' &&
    typeof example.prompt === 'string' &&
    typeof example.completion === 'string'
  ) {
    // Standard (non-chat) format: prompt and completion tokenised apart, exactly as
    // generation sees them (prompt tokens, then generated tokens).
    const prompt = [
      ...leadingSpecials(tokenizer),
      ...tokenizer.encode(example.prompt, { addSpecialTokens: false }),
    ];
    const completion = [
      ...tokenizer.encode(example.completion, { addSpecialTokens: false }),
      ...eos,
    ];
    const trainPrompt = o.loss_mask === 'all' ? 1 : 0;
    return {
      tokens: [...prompt, ...completion],
      mask: [...prompt.map(() => trainPrompt), ...completion.map(() => 1)],
    };
  }
  if (example.kind === 'prompt_completion') {
    const prompt = asMessages(example.prompt, 'user');
    const messages = [...prompt, ...asMessages(example.completion, 'assistant')];
    const all = o.loss_mask === 'all';
    const { tokens, mask } = tokenizeConversation(
      tokenizer,
      messages,
      (i) => all || i >= prompt.length,
      o.completion_key,
      rowIndex,
    );
    return { tokens, mask };
  }
  const { messages } = example;
  const last = messages.length - 1;
  let train: (i: number, role: string) => boolean;
  switch (o.loss_mask) {
    case 'all':
      train = () => true;
      break;
    case 'assistant_only':
      train = (_i, role) => role === 'assistant';
      break;
    default:
      if (messages[last]!.role !== 'assistant') {
        dataError(
          `loss_mask ${o.loss_mask} needs the last message to be the assistant's, got role "${messages[last]!.role}"`,
          `${o.messages_key}[${last}].role`,
          rowIndex,
        );
      }
      train = (i) => i === last;
  }
  const { tokens, mask } = tokenizeConversation(
    tokenizer,
    messages,
    (i, m) => train(i, m.role),
    o.messages_key,
    rowIndex,
  );
  return { tokens, mask };
}

/** SFT rows tokenised into the `input_tokens` / `loss_mask` / `sample_mask` columns' arrays. */
export interface SftBatchArrays {
  input_tokens: { values: Int32Array; offsets: Int32Array };
  loss_mask: { values: Uint8Array; offsets: Int32Array };
  /** 0 for over-length rows kept under `truncation: keep`. */
  sample_mask: Float32Array;
  /** Index (within the rows given) of the row each example came from: dropped rows leave gaps. */
  row_index: Int32Array;
  stats: TokenizeStats;
}

/**
 * Parse and tokenise SFT rows, applying `max_length` / `truncation`. `firstRow` is
 * the index of `rows[0]` in its dataset, used in error messages; `guard` may skip
 * invalid rows instead of throwing.
 */
export function tokenizeSftRows(
  tokenizer: Tokenizer,
  rows: Row[],
  options: Partial<SftTokenizeOptions> = {},
  firstRow = 0,
  guard: RowGuard = throwingGuard,
): SftBatchArrays {
  const o = SftTokenizeOptions.parse(options);
  const tokensOut = new FlatListBuilder(Int32Array);
  const maskOut = new FlatListBuilder(Uint8Array);
  const { stats, sample_mask, row_index } = tokenizeEach(rows, o, guard, {
    tokenize: (row, i) =>
      tokenizeSftExampleWith(tokenizer, parseSftRowWith(row, o, firstRow + i), o, firstRow + i),
    length: (e) => e.tokens.length,
    cut: (e, max, keepStart) => ({
      tokens: cut(e.tokens, max, keepStart),
      mask: cut(e.mask, max, keepStart),
    }),
    emit: ({ tokens, mask }, _weight, counts) => {
      if (!mask.includes(1)) counts.no_loss_tokens += 1;
      tokensOut.push(tokens);
      maskOut.push(mask);
      return tokens.length;
    },
  });
  return {
    input_tokens: tokensOut.finish(),
    loss_mask: maskOut.finish(),
    sample_mask,
    row_index,
    stats,
  };
}
