import { z } from 'zod';
import { dataError, requireTextOrMessages, type Row, type TextOrMessages } from './fields';

/** Where a preference row's prompt and its two completions live. */
export const PreferenceFormatOptions = z.object({
  /** `prompt_chosen_rejected` (TRL), NeMo RL's `context_completions` ({context, completions: [{rank, completion}]}), or `auto`. */
  format: z.enum(['auto', 'prompt_chosen_rejected', 'context_completions']).default('auto'),
  /** Prompt column (string or messages). */
  prompt_key: z.string().default('prompt'),
  /** Preferred completion column. */
  chosen_key: z.string().default('chosen'),
  /** Dispreferred completion column. */
  rejected_key: z.string().default('rejected'),
  /** NeMo RL's context column. */
  context_key: z.string().default('context'),
  /** NeMo RL's ranked completions column; the lower rank is preferred. */
  completions_key: z.string().default('completions'),
});
export type PreferenceFormatOptions = z.infer<typeof PreferenceFormatOptions>;

/** One preference pair; `chosen` is preferred over `rejected` for `prompt`. */
export interface PreferenceExample {
  prompt: TextOrMessages;
  chosen: TextOrMessages;
  rejected: TextOrMessages;
}

/** Parse one preference row; errors name the row and the field. */
export function parsePreferenceRow(
  row: Row,
  options: Partial<PreferenceFormatOptions> = {},
  rowIndex?: number,
): PreferenceExample {
  return parsePreferenceRowWith(row, PreferenceFormatOptions.parse(options), rowIndex);
}

/** `parsePreferenceRow` with options already validated (the per-row hot path). */
export function parsePreferenceRowWith(
  row: Row,
  o: PreferenceFormatOptions,
  rowIndex?: number,
): PreferenceExample {
  const format =
    o.format !== 'auto'
      ? o.format
      : o.completions_key in row && !(o.chosen_key in row)
        ? 'context_completions'
        : 'prompt_chosen_rejected';
  if (format === 'prompt_chosen_rejected') {
    return {
      prompt: requireTextOrMessages(row, o.prompt_key, rowIndex),
      chosen: requireTextOrMessages(row, o.chosen_key, rowIndex),
      rejected: requireTextOrMessages(row, o.rejected_key, rowIndex),
    };
  }
  const prompt = requireTextOrMessages(row, o.context_key, rowIndex);
  const list = row[o.completions_key];
  const key = o.completions_key;
  if (!Array.isArray(list))
    dataError(`field "${key}" must be a list of {rank, completion}`, key, rowIndex);
  if (list.length !== 2) {
    dataError(
      `field "${key}" must hold exactly two completions, got ${list.length}`,
      key,
      rowIndex,
    );
  }
  const ranked = list.map((c, i) => {
    const at = `${key}[${i}]`;
    if (typeof c !== 'object' || c === null)
      dataError(`field "${at}" must be a {rank, completion} object`, at, rowIndex);
    const rank = (c as Row)['rank'];
    if (typeof rank !== 'number' || !Number.isFinite(rank))
      dataError(`field "${at}.rank" must be a number`, `${at}.rank`, rowIndex);
    return { rank, completion: requireTextOrMessages(c as Row, 'completion', rowIndex) };
  });
  const [a, b] = ranked as [(typeof ranked)[0], (typeof ranked)[0]];
  if (a.rank === b.rank)
    dataError(`field "${key}" has two completions of equal rank ${a.rank}`, key, rowIndex);
  const [chosen, rejected] = a.rank < b.rank ? [a, b] : [b, a];
  return { prompt, chosen: chosen.completion, rejected: rejected.completion };
}
