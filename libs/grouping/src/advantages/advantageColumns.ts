import { DataType, Precision, type RecordBatch, type Table, type Vector } from 'apache-arrow';
import {
  COLUMNS,
  RxrlDataError,
  addColumns,
  getColumn,
  readInt32Column,
  readListColumn,
} from '@rxrl/core/base';
import type { AdvantageOptionsInput } from './advantageOptions';
import { computeAdvantages, type AdvantageInputs, type AdvantageResult } from './computeAdvantages';

/**
 * A Float32 reward column as a Float32Array: the zero-copy view when it has no
 * nulls; otherwise a copy with NaN where the reward is null (missing).
 */
export function readRewardColumn(batch: RecordBatch | Table, name: string): Float32Array {
  const column: Vector = getColumn(batch, name);
  if (!DataType.isFloat(column.type) || column.type.precision !== Precision.SINGLE) {
    throw new RxrlDataError(`column '${name}' is ${column.type}, expected Float32`, {
      field: name,
    });
  }
  const chunks = column.data;
  if (chunks.length === 1 && column.nullCount === 0) {
    const d = chunks[0]!;
    return (d.values as Float32Array).subarray(0, d.length);
  }
  const out = new Float32Array(column.length);
  let at = 0;
  for (const d of chunks) {
    const values = d.values as Float32Array;
    for (let i = 0; i < d.length; i++) out[at + i] = d.getValid(i) ? values[i]! : Number.NaN;
    at += d.length;
  }
  return out;
}

/** The `reward/<name>` component columns of a batch, in schema order. */
export function rewardComponentNames(batch: RecordBatch | Table): string[] {
  const prefix = `${COLUMNS.reward}/`;
  return batch.schema.fields
    .filter((f) => f.name.startsWith(prefix))
    .map((f) => f.name.slice(prefix.length));
}

/**
 * Reads {@link AdvantageInputs} from a batch: `reward`, the `reward/<name>`
 * components (all of them unless `components` names some) and `group_id`
 * (or `groupColumn`, e.g. `prompt_id`).
 */
export function readAdvantageInputs(
  batch: RecordBatch | Table,
  options: { components?: readonly string[]; groupColumn?: string; needTotal?: boolean } = {},
): AdvantageInputs & { componentNames: string[] } {
  const groupIds = readInt32Column(batch, options.groupColumn ?? COLUMNS.groupId);
  const componentNames = [...(options.components ?? rewardComponentNames(batch))];
  const rewardComponents = componentNames.map((c) =>
    readRewardColumn(batch, `${COLUMNS.reward}/${c}`),
  );
  const hasTotal = batch.schema.fields.some((f) => f.name === COLUMNS.reward);
  const rewards =
    hasTotal || options.needTotal !== false ? readRewardColumn(batch, COLUMNS.reward) : undefined;
  return { rewards, rewardComponents, groupIds, componentNames };
}

/**
 * Computes advantages for a batch and returns it with an `advantage` Float32
 * column added (the batch's own columns are not touched), plus the metrics.
 */
export function addAdvantageColumn(
  batch: RecordBatch,
  options: AdvantageOptionsInput = {},
  read: { components?: readonly string[]; groupColumn?: string } = {},
): { batch: RecordBatch; metrics: AdvantageResult['metrics'] } {
  const gdpo = options.estimator === 'gdpo';
  const inputs = readAdvantageInputs(batch, { ...read, needTotal: !gdpo });
  if (gdpo && inputs.componentNames.length === 0) {
    throw new RxrlDataError(
      `estimator gdpo needs ${COLUMNS.reward}/<name> columns; the batch has none`,
      {
        field: `${COLUMNS.reward}/*`,
      },
    );
  }
  // REINFORCE++ whitens over valid tokens: weight each sample by its completion length
  const tokenCounts =
    options.estimator === 'reinforce_plus_plus' &&
    batch.schema.fields.some((f) => f.name === COLUMNS.completionTokens)
      ? readResponseLengths(batch)
      : undefined;
  const { advantages, metrics } = computeAdvantages({ ...inputs, tokenCounts }, options);
  return { batch: addColumns(batch, { [COLUMNS.advantage]: advantages }), metrics };
}

/** Completion lengths (tokens) from the `completion_tokens` list column, for the overlong penalty. */
export function readResponseLengths(
  batch: RecordBatch | Table,
  name: string = COLUMNS.completionTokens,
): Int32Array {
  const { offsets } = readListColumn(batch, name, 'int32');
  const out = new Int32Array(offsets.length - 1);
  for (let i = 0; i < out.length; i++) out[i] = offsets[i + 1]! - offsets[i]!;
  return out;
}

/** `finish_reason` strings (plain or dictionary-encoded Utf8); null reads as null. */
export function readFinishReasons(
  batch: RecordBatch | Table,
  name: string = COLUMNS.finishReason,
): (string | null)[] {
  const column = getColumn(batch, name);
  const t = column.type;
  const isText = DataType.isUtf8(t) || (DataType.isDictionary(t) && DataType.isUtf8(t.dictionary));
  if (!isText)
    throw new RxrlDataError(`column '${name}' is ${t}, expected Utf8 or Dictionary<Utf8>`, {
      field: name,
    });
  return column.toArray() as (string | null)[];
}
