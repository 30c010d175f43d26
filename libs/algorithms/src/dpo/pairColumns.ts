import { lastValueFrom, of } from 'rxjs';
import { Utf8, vectorFromArray, type RecordBatch } from 'apache-arrow';
import type { LoadedConfig } from '@rxrl/config';
import {
  COLUMNS,
  makeRecordBatch,
  readFloat32Column,
  type ColumnInput,
  type Tokenizer,
} from '@rxrl/core/base';
import type { Row } from '@rxrl/data';
import { buildGraph, validateGraph, type GraphSpec, type StageRegistry } from '@rxrl/pipeline';
import { PAIR_TEXT_COLUMNS, parsePairColumn } from '@rxrl/reward';
import type { PreferencePair } from './dpoExamples';

/**
 * Columns of the pair batch a DPO recipe's `graph:` runs over: the dataset row
 * (`prompt_id`), prompt and both responses as text (decoded from the tokens the loss
 * trains on, special tokens left out), and the row's ground truth `answer`; every other
 * scalar field of the row comes along under its own name.
 */
export const DPO_PAIR_SOURCE_COLUMNS = [
  COLUMNS.promptId,
  COLUMNS.promptText,
  PAIR_TEXT_COLUMNS.chosen,
  PAIR_TEXT_COLUMNS.rejected,
  COLUMNS.answer,
];

/** Validates a DPO recipe's `graph:` (its stages see {@link DPO_PAIR_SOURCE_COLUMNS}). */
export function validateDpoGraph(
  spec: GraphSpec,
  options: { registry: StageRegistry; loaded?: LoadedConfig },
) {
  return validateGraph(spec, { ...options, sourceColumns: DPO_PAIR_SOURCE_COLUMNS });
}

/** The pair batch of `pairs`: texts decoded with `tokenizer`, the source rows' scalar fields as columns. */
export function pairBatch(
  pairs: readonly PreferencePair[],
  rows: readonly Row[],
  tokenizer: Tokenizer,
): RecordBatch {
  const text = (ids: Int32Array) => tokenizer.decode(ids, { skipSpecialTokens: true });
  const columns: Record<string, ColumnInput> = {
    [COLUMNS.promptId]: Int32Array.from(pairs, (p) => p.row ?? -1),
    [COLUMNS.promptText]: pairs.map((p) => text(p.prompt)),
    [PAIR_TEXT_COLUMNS.chosen]: pairs.map((p) => text(p.chosen)),
    [PAIR_TEXT_COLUMNS.rejected]: pairs.map((p) => text(p.rejected)),
  };
  const taken = new Set(['prompt', 'chosen', 'rejected', 'messages', ...Object.keys(columns)]);
  const fields = new Set<string>();
  for (const p of pairs)
    for (const [k, v] of Object.entries(rows[p.row ?? -1] ?? {}))
      if (
        !taken.has(k) &&
        (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
      )
        fields.add(k);
  for (const k of fields) {
    const values = pairs.map((p) => rows[p.row ?? -1]?.[k]);
    columns[k] = values.every((v) => typeof v === 'number')
      ? Float32Array.from(values as number[])
      : vectorFromArray(
          values.map((v) => (v === undefined || v === null ? null : String(v))),
          new Utf8(),
        );
  }
  return makeRecordBatch(columns);
}

/**
 * Runs a DPO recipe's graph once over the pairs (each stage is made, fed one batch and
 * closed) and returns the pairs with the bonus and margin columns it wrote;
 * `emit` receives the stages' metrics.
 */
export async function scorePairs(
  spec: GraphSpec,
  pairs: readonly PreferencePair[],
  rows: readonly Row[],
  tokenizer: Tokenizer,
  registry: StageRegistry,
  emit: (metrics: Record<string, number>) => void = () => {},
): Promise<PreferencePair[]> {
  if (pairs.length === 0) return [...pairs];
  const graph = buildGraph(
    spec,
    { services: { tokenizer }, emit },
    { registry, sourceColumns: DPO_PAIR_SOURCE_COLUMNS },
  );
  const out = await lastValueFrom(of(pairBatch(pairs, rows, tokenizer)).pipe(graph));
  const bonuses: { name: string; side: 'chosen' | 'rejected'; values: Float32Array }[] = [];
  const margins: { name: string; values: Float32Array }[] = [];
  // the loss reads the bonus (`bonus/<name>/chosen|rejected`) and margin (`margin/<name>`) columns
  for (const f of out.schema.fields) {
    const c = parsePairColumn(f.name);
    if (c?.kind === 'bonus')
      bonuses.push({ name: c.name, side: c.side, values: readFloat32Column(out, f.name) });
    else if (c?.kind === 'margin')
      margins.push({ name: c.name, values: readFloat32Column(out, f.name) });
  }
  return pairs.map((p, i) => {
    const scored: PreferencePair = { ...p };
    if (bonuses.length > 0) {
      scored.bonuses = {};
      for (const b of bonuses)
        (scored.bonuses[b.name] ??= { chosen: 0, rejected: 0 })[b.side] = b.values[i]!;
    }
    if (margins.length > 0)
      scored.margins = Object.fromEntries(margins.map((m) => [m.name, m.values[i]!]));
    return scored;
  });
}
