import { RxrlUsageError, type FlatList } from '@rxrl/core/base';

/** Token sequences as flat values + offsets, or as one array per sequence. */
export type Sequences = FlatList<Int32Array> | readonly ArrayLike<number>[];

/** Sequences in flat form (copies once when given per-sequence arrays). */
export function toFlat(seqs: Sequences): FlatList<Int32Array> {
  if (!Array.isArray(seqs)) {
    const flat = seqs as FlatList<Int32Array>;
    if (flat.offsets[0] !== 0)
      throw new RxrlUsageError('sequence offsets must start at 0 (use readList to rebase)');
    return flat;
  }
  const rows = seqs as readonly ArrayLike<number>[];
  const offsets = new Int32Array(rows.length + 1);
  for (let i = 0; i < rows.length; i++) offsets[i + 1] = offsets[i]! + rows[i]!.length;
  const values = new Int32Array(offsets[rows.length]!);
  for (let i = 0; i < rows.length; i++) values.set(rows[i]!, offsets[i]!);
  return { values, offsets };
}
