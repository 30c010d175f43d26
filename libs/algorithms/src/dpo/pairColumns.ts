import { Utf8, vectorFromArray } from 'apache-arrow';
import { COLUMNS, type ColumnInput, type Tokenizer } from '@rxrl/core/base';
import type { ValidatedNode } from '@rxrl/pipeline';
import { PAIR_TEXT_COLUMNS } from '@rxrl/reward';
import type { PreferencePair } from './dpoExamples';

/**
 * Columns a preference batch carries for a stage of the per-step graph that scores
 * pairs (`reward.pair`): the dataset row (`prompt_id`), prompt and both responses as
 * text (decoded from the tokens the loss trains on, special tokens left out), and
 * the row's ground truth `answer`; every other scalar field of the row comes along
 * under its own name.
 */
export const PAIR_TEXT_SOURCE_COLUMNS: readonly string[] = [
  COLUMNS.promptId,
  COLUMNS.promptText,
  PAIR_TEXT_COLUMNS.chosen,
  PAIR_TEXT_COLUMNS.rejected,
  COLUMNS.answer,
];

/**
 * Whether a graph reads the text columns: only then are they decoded, so a graph
 * without a pair-scoring stage gets the token columns alone, as before.
 */
export function graphReadsPairTexts(nodes: readonly ValidatedNode[]): boolean {
  return nodes.some((n) => n.requires.some((c) => PAIR_TEXT_SOURCE_COLUMNS.includes(c)));
}

/** The text columns of `pairs` ({@link PAIR_TEXT_SOURCE_COLUMNS} and the rows' scalar fields). */
export function pairTextColumns(
  pairs: readonly PreferencePair[],
  tokenizer: Tokenizer,
): Record<string, ColumnInput> {
  const text = (ids: Int32Array) => tokenizer.decode(ids, { skipSpecialTokens: true });
  const strings = (values: readonly (string | null)[]) => vectorFromArray(values, new Utf8());
  const field = (p: PreferencePair, k: string) => p.source?.[k];
  const columns: Record<string, ColumnInput> = {
    [COLUMNS.promptId]: Int32Array.from(pairs, (p) => p.row ?? -1),
    [COLUMNS.promptText]: pairs.map((p) => text(p.prompt)),
    [PAIR_TEXT_COLUMNS.chosen]: pairs.map((p) => text(p.chosen)),
    [PAIR_TEXT_COLUMNS.rejected]: pairs.map((p) => text(p.rejected)),
    // a verifier compares strings: a numeric answer is written as one
    [COLUMNS.answer]: strings(
      pairs.map((p) => {
        const a = field(p, 'answer');
        return a === undefined || a === null ? null : String(a);
      }),
    ),
  };
  const taken = new Set(['prompt', 'chosen', 'rejected', 'messages', ...Object.keys(columns)]);
  const fields = new Set<string>();
  for (const p of pairs)
    for (const [k, v] of Object.entries(p.source ?? {}))
      if (
        !taken.has(k) &&
        (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
      )
        fields.add(k);
  for (const k of fields) {
    const values = pairs.map((p) => field(p, k));
    columns[k] = values.every((v) => typeof v === 'number')
      ? Float32Array.from(values as number[])
      : strings(values.map((v) => (v === undefined || v === null ? null : String(v))));
  }
  return columns;
}
