import { z } from 'zod';
import type { Tokenizer } from '@rxrl/core/base';
import { cut, leadingSpecials } from './affixes';
import type { Row } from './fields';
import { FlatListBuilder } from './flatBuilder';
import { tokenizeEach } from './tokenizeEach';
import { GrpoFormatOptions, parseGrpoRowWith, type GrpoExample } from './grpoFormat';
import { throwingGuard, Truncation, type RowGuard, type TokenizeStats } from './truncation';

/** How GRPO prompts become prompt tokens. */
export const GrpoTokenizeOptions = GrpoFormatOptions.extend({
  /** Longest prompt in tokens (NeMo RL's max_input_seq_length); longer ones follow `truncation`. Null: no limit. */
  max_length: z.number().int().positive().nullable().default(1024),
  /** Over-length policy; `truncate_left` keeps the prompt's end, next to where generation starts. */
  truncation: Truncation.default('drop'),
});
export type GrpoTokenizeOptions = z.infer<typeof GrpoTokenizeOptions>;

/**
 * Prompt text and tokens of one GRPO example: a message list is rendered with the
 * chat template and its generation prompt; a plain string is used as is, with BOS
 * as the tokenizer config says.
 */
export function tokenizeGrpoPrompt(
  tokenizer: Tokenizer,
  example: GrpoExample,
): { text: string; tokens: number[] } {
  if (typeof example.prompt === 'string') {
    return {
      text: example.prompt,
      tokens: [
        ...leadingSpecials(tokenizer),
        ...tokenizer.encode(example.prompt, { addSpecialTokens: false }),
      ],
    };
  }
  const text = tokenizer.applyChatTemplate(example.prompt, { addGenerationPrompt: true });
  return { text, tokens: tokenizer.encode(text, { addSpecialTokens: false }) };
}

/** GRPO rows tokenised into the `prompt_tokens` / `prompt_text` / `answer` columns plus carried columns. */
export interface GrpoBatchArrays {
  prompt_tokens: { values: Int32Array; offsets: Int32Array };
  /** The prompt as the model sees it (decoded from the tokens when truncated). */
  prompt_text: string[];
  answer: string[];
  /** Every other column of each row, carried to the reward stage. */
  extra: Row[];
  /** 0 for over-length prompts kept under `truncation: keep`. */
  sample_mask: Float32Array;
  /** Index (within the rows given) of the row each prompt came from. */
  row_index: Int32Array;
  stats: TokenizeStats;
}

/** Parse and tokenise GRPO prompt rows, applying `max_length` / `truncation` (`guard`: see `RowGuard`). */
export function tokenizeGrpoRows(
  tokenizer: Tokenizer,
  rows: Row[],
  options: Partial<GrpoTokenizeOptions> = {},
  firstRow = 0,
  guard: RowGuard = throwingGuard,
): GrpoBatchArrays {
  const o = GrpoTokenizeOptions.parse(options);
  const out = new FlatListBuilder(Int32Array);
  const promptText: string[] = [];
  const answer: string[] = [];
  const extra: Row[] = [];
  const { stats, sample_mask, row_index } = tokenizeEach(rows, o, guard, {
    tokenize: (row, i) => {
      const ex = parseGrpoRowWith(row, o, firstRow + i);
      return { ex, ...tokenizeGrpoPrompt(tokenizer, ex) };
    },
    length: (e) => e.tokens.length,
    // a cut prompt is what the model sees: its text is decoded from the kept tokens
    cut: (e, max, keepStart) => {
      const tokens = cut(e.tokens, max, keepStart);
      return { ...e, tokens, text: tokenizer.decode(tokens) };
    },
    emit: ({ ex, text, tokens }) => {
      out.push(tokens);
      promptText.push(text);
      answer.push(ex.answer);
      extra.push(ex.extra);
      return tokens.length;
    },
  });
  return {
    prompt_tokens: out.finish(),
    prompt_text: promptText,
    answer,
    extra,
    sample_mask,
    row_index,
    stats,
  };
}
