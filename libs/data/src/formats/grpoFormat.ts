import { z } from 'zod';
import { requireAnswer, requireTextOrMessages, type Row, type TextOrMessages } from './fields';

/** Where a GRPO prompt row's prompt and ground truth live. */
export const GrpoFormatOptions = z.object({
  /** Prompt column: a string, or a message list (then `messages_key` is not needed). */
  prompt_key: z.string().default('prompt'),
  /** Conversation column, used when the row has no `prompt_key` column. */
  messages_key: z.string().default('messages'),
  /** Ground-truth column for verifiable rewards (string or number). */
  answer_key: z.string().default('answer'),
});
export type GrpoFormatOptions = z.infer<typeof GrpoFormatOptions>;

/** One GRPO prompt with its ground truth; `extra` holds every other column, carried to the reward stage. */
export interface GrpoExample {
  prompt: TextOrMessages;
  answer: string;
  extra: Row;
}

/** Parse one GRPO row; errors name the row and the field. */
export function parseGrpoRow(
  row: Row,
  options: Partial<GrpoFormatOptions> = {},
  rowIndex?: number,
): GrpoExample {
  return parseGrpoRowWith(row, GrpoFormatOptions.parse(options), rowIndex);
}

/** `parseGrpoRow` with options already validated (the per-row hot path). */
export function parseGrpoRowWith(row: Row, o: GrpoFormatOptions, rowIndex?: number): GrpoExample {
  const promptKey = !(o.prompt_key in row) && o.messages_key in row ? o.messages_key : o.prompt_key;
  const prompt = requireTextOrMessages(row, promptKey, rowIndex);
  const answer = requireAnswer(row, o.answer_key, rowIndex);
  const extra: Row = {};
  for (const [k, v] of Object.entries(row)) {
    if (k !== promptKey && k !== o.answer_key) extra[k] = v;
  }
  return { prompt, answer, extra };
}
