import { z } from 'zod';
import type { ChatMessage } from '@rxrl/core/base';
import {
  dataError,
  parseMessages,
  requireString,
  requireTextOrMessages,
  type Row,
  type TextOrMessages,
} from './fields';

/** Where an SFT row's training text lives. */
export const SftFormatOptions = z.object({
  /** Row layout: `text`, `messages` (OpenAI chat), `prompt_completion`, NeMo RL's `input_output`, or `auto` (first of messages, prompt+completion, input+output, text present). */
  format: z.enum(['auto', 'text', 'messages', 'prompt_completion', 'input_output']).default('auto'),
  /** Column holding plain text for `text`. */
  text_key: z.string().default('text'),
  /** Column holding the conversation for `messages`. */
  messages_key: z.string().default('messages'),
  /** Column holding the prompt (string or messages) for `prompt_completion`. */
  prompt_key: z.string().default('prompt'),
  /** Column holding the completion (string or messages) for `prompt_completion`. */
  completion_key: z.string().default('completion'),
  /** NeMo RL's prompt column for `input_output`. */
  input_key: z.string().default('input'),
  /** NeMo RL's response column for `input_output`. */
  output_key: z.string().default('output'),
});
export type SftFormatOptions = z.infer<typeof SftFormatOptions>;

/** One SFT example, whatever layout its row had. */
export type SftExample =
  | { kind: 'text'; text: string }
  | { kind: 'messages'; messages: ChatMessage[] }
  | { kind: 'prompt_completion'; prompt: TextOrMessages; completion: TextOrMessages };

/** Parse one SFT row; errors name the row and the field. */
export function parseSftRow(
  row: Row,
  options: Partial<SftFormatOptions> = {},
  rowIndex?: number,
): SftExample {
  return parseSftRowWith(row, SftFormatOptions.parse(options), rowIndex);
}

/** `parseSftRow` with options already validated (the per-row hot path). */
export function parseSftRowWith(row: Row, o: SftFormatOptions, rowIndex?: number): SftExample {
  let format = o.format;
  if (format === 'auto') {
    if (o.messages_key in row) format = 'messages';
    else if (o.prompt_key in row && o.completion_key in row) format = 'prompt_completion';
    else if (o.input_key in row && o.output_key in row) format = 'input_output';
    else if (o.text_key in row) format = 'text';
    else {
      dataError(
        `cannot tell the SFT format: none of "${o.messages_key}", "${o.prompt_key}"+"${o.completion_key}", ` +
          `"${o.input_key}"+"${o.output_key}", "${o.text_key}" present (columns: ${Object.keys(row).join(', ') || 'none'})`,
        o.messages_key,
        rowIndex,
      );
    }
  }
  switch (format) {
    case 'text':
      return { kind: 'text', text: requireString(row, o.text_key, rowIndex) };
    case 'messages':
      return {
        kind: 'messages',
        messages: parseMessages(row[o.messages_key], o.messages_key, rowIndex),
      };
    case 'prompt_completion':
      return {
        kind: 'prompt_completion',
        prompt: requireTextOrMessages(row, o.prompt_key, rowIndex),
        completion: requireTextOrMessages(row, o.completion_key, rowIndex),
      };
    case 'input_output':
      return {
        kind: 'prompt_completion',
        prompt: requireTextOrMessages(row, o.input_key, rowIndex),
        completion: requireTextOrMessages(row, o.output_key, rowIndex),
      };
  }
}
