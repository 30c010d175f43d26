import type { RecordBatch } from 'apache-arrow';
import { COLUMNS, readFloat32Column, readInt32Column, readListColumn } from '@rxrl/core/base';
import { readFinishReasons } from '@rxrl/grouping';

/** A ragged column on the host: row i is `values[offsets[i] .. offsets[i + 1])`. */
export interface RaggedColumn<A extends Int32Array | Float32Array> {
  values: A;
  offsets: Int32Array;
}

/**
 * One step's rollout as host arrays, one entry per sample: what the policy
 * update reads. Kept apart from the Arrow batch so dynamic sampling can select
 * whole groups and join several generation batches without rebuilding Arrow.
 */
export interface RolloutRows {
  prompts: RaggedColumn<Int32Array>;
  completions: RaggedColumn<Int32Array>;
  genLogprobs: RaggedColumn<Float32Array>;
  rewards: Float32Array;
  advantages: Float32Array;
  /** 1 trains on the sample, 0 leaves it out of the loss (overlong filtering) */
  sampleMask: Float32Array;
  /** group of each sample, unique within these rows */
  groupIds: Int32Array;
  finishReasons: (string | null)[];
  promptTexts: string[];
  completionTexts: string[];
  answers: string[];
}

/** The rows of a graph's output batch (the GRPO source columns plus rollout, reward and advantage). */
export function readRolloutRows(rolled: RecordBatch): RolloutRows {
  const n = rolled.numRows;
  const text = (name: string) =>
    Array.from({ length: n }, (_, i) => (rolled.getChild(name)?.get(i) as string | null) ?? '');
  return {
    prompts: readListColumn(rolled, COLUMNS.promptTokens, 'int32'),
    completions: readListColumn(rolled, COLUMNS.completionTokens, 'int32'),
    genLogprobs: readListColumn(rolled, COLUMNS.genLogprobs, 'float32'),
    rewards: Float32Array.from(readFloat32Column(rolled, COLUMNS.reward)),
    advantages: Float32Array.from(readFloat32Column(rolled, COLUMNS.advantage)),
    sampleMask: rolled.getChild(COLUMNS.sampleMask)
      ? Float32Array.from(readFloat32Column(rolled, COLUMNS.sampleMask))
      : new Float32Array(n).fill(1),
    groupIds: Int32Array.from(readInt32Column(rolled, COLUMNS.groupId)),
    finishReasons: readFinishReasons(rolled),
    promptTexts: text(COLUMNS.promptText),
    completionTexts: text(COLUMNS.completionText),
    answers: text(COLUMNS.answer),
  };
}

function gatherRagged<A extends Int32Array | Float32Array>(
  parts: { col: RaggedColumn<A>; rows: ArrayLike<number> }[],
  make: (n: number) => A,
): RaggedColumn<A> {
  let total = 0;
  let count = 0;
  for (const { col, rows } of parts) {
    count += rows.length;
    for (let i = 0; i < rows.length; i++)
      total += col.offsets[rows[i]! + 1]! - col.offsets[rows[i]!]!;
  }
  const values = make(total);
  const offsets = new Int32Array(count + 1);
  let r = 0;
  let at = 0;
  for (const { col, rows } of parts) {
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      const seg = col.values.subarray(col.offsets[row]!, col.offsets[row + 1]!);
      values.set(seg, at);
      at += seg.length;
      offsets[++r] = at;
    }
  }
  return { values, offsets };
}

/**
 * Rows `rows` of each part, in order, as one RolloutRows. Group ids are
 * renumbered 0.. in order of first appearance so groups from different
 * generation batches never share an id.
 */
export function joinRolloutRows(
  parts: { from: RolloutRows; rows: ArrayLike<number> }[],
): RolloutRows {
  const pick = <T>(get: (r: RolloutRows) => ArrayLike<T>): T[] =>
    parts.flatMap(({ from, rows }) => Array.from(rows, (i) => get(from)[i]!));
  const groupIds: number[] = [];
  let next = 0;
  for (const { from, rows } of parts) {
    const renumber = new Map<number, number>();
    for (let i = 0; i < rows.length; i++) {
      const g = from.groupIds[rows[i]!]!;
      if (!renumber.has(g)) renumber.set(g, next++);
      groupIds.push(renumber.get(g)!);
    }
  }
  return {
    prompts: gatherRagged(
      parts.map((p) => ({ col: p.from.prompts, rows: p.rows })),
      (n) => new Int32Array(n),
    ),
    completions: gatherRagged(
      parts.map((p) => ({ col: p.from.completions, rows: p.rows })),
      (n) => new Int32Array(n),
    ),
    genLogprobs: gatherRagged(
      parts.map((p) => ({ col: p.from.genLogprobs, rows: p.rows })),
      (n) => new Float32Array(n),
    ),
    rewards: Float32Array.from(pick((r) => r.rewards)),
    advantages: Float32Array.from(pick((r) => r.advantages)),
    sampleMask: Float32Array.from(pick((r) => r.sampleMask)),
    groupIds: Int32Array.from(groupIds),
    finishReasons: pick((r) => r.finishReasons),
    promptTexts: pick((r) => r.promptTexts),
    completionTexts: pick((r) => r.completionTexts),
    answers: pick((r) => r.answers),
  };
}
