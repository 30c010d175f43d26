import { z } from 'zod';
import { RxrlConfigError, RxrlDataError, type FlatList, type ListValues } from '@rxrl/core/base';
import { toFlat, type Sequences } from './sequences';

/**
 * Best-fit decreasing bin packing: sequences, longest first, each go into the
 * open bin with the least room that still fits them, else a new bin. Returns
 * the sequence indices of each bin (in placement order). Deterministic: ties
 * in length keep index order, ties in room take the earliest bin.
 */
export function bestFitDecreasing(lengths: ArrayLike<number>, capacity: number): number[][] {
  const order = Array.from({ length: lengths.length }, (_, i) => i).sort(
    (a, b) => lengths[b]! - lengths[a]! || a - b,
  );
  const bins: number[][] = [];
  // byRoom[r]: bins with exactly r free slots, each kept sorted by bin index
  const byRoom: number[][] = Array.from({ length: capacity + 1 }, () => []);
  for (const seq of order) {
    const len = lengths[seq]!;
    if (len > capacity) {
      throw new RxrlDataError(
        `sequence ${seq} has ${len} tokens, more than max_seq_len ${capacity}; truncate it first`,
        {
          row: seq,
        },
      );
    }
    let bin = -1;
    for (let r = len; r <= capacity; r++) {
      const list = byRoom[r]!;
      if (list.length > 0) {
        bin = list.shift()!;
        const room = r - len;
        insertSorted(byRoom[room]!, bin);
        break;
      }
    }
    if (bin === -1) {
      bin = bins.length;
      bins.push([]);
      insertSorted(byRoom[capacity - len]!, bin);
    }
    bins[bin]!.push(seq);
  }
  return bins;
}

function insertSorted(list: number[], x: number): void {
  let i = list.length;
  while (i > 0 && list[i - 1]! > x) i--;
  list.splice(i, 0, x);
}

/** Options of `packSequences`. */
export const packOptionsSchema = z.object({
  /** Length of each packed row; no sequence may be longer. */
  max_seq_len: z.number().int().positive(),
  /** Id written into the unused tail of a row. */
  pad_token_id: z.number().int().nonnegative().default(0),
});
export type PackOptions = z.input<typeof packOptionsSchema>;

/** Packed rows as `[batch, seqLen]` typed arrays. */
export interface PackedBatch {
  ids: Int32Array;
  /** 1..k for the k sequences of a row, 0 on padding; attention is allowed only within equal non-zero ids. */
  segmentIds: Int32Array;
  /** Position within the sequence, restarting at 0 at each sequence start. */
  positions: Int32Array;
  /** 1 for real tokens, 0 for padding. */
  mask: Int32Array;
  batch: number;
  seqLen: number;
  /** Sequence indices of each row, in order. */
  bins: number[][];
  /** Flat index (`row * seqLen + column`) where each input sequence starts. */
  starts: Int32Array;
  /** Length of each input sequence. */
  lengths: Int32Array;
}

/**
 * Packs sequences into rows of `max_seq_len` with best-fit decreasing,
 * keeping boundaries: every token lands exactly once, with a segment id and a
 * position that restarts per sequence, so a block-diagonal attention mask
 * built from `segmentIds` never lets one sequence see another.
 */
export function packSequences(seqs: Sequences, options: PackOptions): PackedBatch {
  const r = packOptionsSchema.safeParse(options);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new RxrlConfigError(`packing option '${issue.path.join('.')}': ${issue.message}`);
  }
  const { max_seq_len: seqLen, pad_token_id } = r.data;
  const { values, offsets } = toFlat(seqs);
  const n = offsets.length - 1;
  const lengths = new Int32Array(n);
  for (let i = 0; i < n; i++) lengths[i] = offsets[i + 1]! - offsets[i]!;
  const bins = bestFitDecreasing(lengths, seqLen);
  const batch = bins.length;
  const ids = new Int32Array(batch * seqLen).fill(pad_token_id);
  const segmentIds = new Int32Array(batch * seqLen);
  const positions = new Int32Array(batch * seqLen);
  const mask = new Int32Array(batch * seqLen);
  const starts = new Int32Array(n);
  for (let b = 0; b < batch; b++) {
    let at = b * seqLen;
    bins[b]!.forEach((seq, k) => {
      const len = lengths[seq]!;
      starts[seq] = at;
      ids.set(values.subarray(offsets[seq]!, offsets[seq + 1]!), at);
      segmentIds.fill(k + 1, at, at + len);
      mask.fill(1, at, at + len);
      for (let t = 0; t < len; t++) positions[at + t] = t;
      at += len;
    });
  }
  return { ids, segmentIds, positions, mask, batch, seqLen, bins, starts, lengths };
}

/** Lays a per-token list (loss mask, log-probs) out in `packed`'s positions, `fill` elsewhere. */
export function packValues<T extends ListValues>(
  list: FlatList<T>,
  packed: PackedBatch,
  fill = 0,
): T {
  const { values, offsets } = list;
  const out = new (values.constructor as { new (n: number): T })(packed.batch * packed.seqLen);
  if (fill !== 0) out.fill(fill);
  for (let i = 0; i < packed.lengths.length; i++) {
    const len = offsets[i + 1]! - offsets[i]!;
    if (len !== packed.lengths[i]) {
      throw new RxrlDataError(
        `row ${i} has ${len} values but its sequence has ${packed.lengths[i]} tokens`,
        { row: i },
      );
    }
    out.set(values.subarray(offsets[i]!, offsets[i + 1]!) as any, packed.starts[i]!);
  }
  return out;
}

/**
 * Whether query position `q` may attend to key position `k` of the same packed
 * row: same non-zero segment and not in the future. The rule an attention
 * mask built from `segmentIds` must follow.
 */
export function packedAttends(packed: PackedBatch, row: number, q: number, k: number): boolean {
  const s = packed.segmentIds;
  const base = row * packed.seqLen;
  return k <= q && s[base + q]! !== 0 && s[base + q] === s[base + k];
}
