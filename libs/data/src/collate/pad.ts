import { z } from 'zod';
import { RxrlConfigError, RxrlDataError, type FlatList, type ListValues } from '@rxrl/core/base';
import { toFlat, type Sequences } from './sequences';

/** Options of `padSequences`. */
export const padOptionsSchema = z.object({
  /** `right` for training (tokens at position 0), `left` for generation (every prompt ends at the last column). */
  padding_side: z.enum(['right', 'left']).default('right'),
  /** Id written into padding positions (masked out, so any valid id works). */
  pad_token_id: z.number().int().nonnegative().default(0),
  /** Pad to this length instead of the longest sequence; a longer sequence is an error. */
  max_length: z.number().int().positive().optional(),
  /** Round the padded length up to a multiple of this (fewer distinct shapes for the tensor engine). */
  pad_to_multiple_of: z.number().int().positive().optional(),
});
export type PadOptions = z.input<typeof padOptionsSchema>;

/** A padded batch as plain row-major typed arrays of shape `[batch, seqLen]`. */
export interface PaddedBatch {
  ids: Int32Array;
  /** 1 for real tokens, 0 for padding (Int32 so it becomes a tensor without conversion). */
  mask: Int32Array;
  /** Position of each token within its sequence (0 on padding), correct for left padding too. */
  positions: Int32Array;
  /** Real length of each sequence. */
  lengths: Int32Array;
  batch: number;
  seqLen: number;
  paddingSide: 'right' | 'left';
}

function parse(options: PadOptions) {
  const r = padOptionsSchema.safeParse(options);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new RxrlConfigError(`padding option '${issue.path.join('.')}': ${issue.message}`);
  }
  return r.data;
}

/**
 * Pads sequences into `[batch, seqLen]` ids with an attention mask and
 * position ids. No tensors: the caller builds them from the typed arrays.
 * @example padSequences([[5, 6, 7], [8]], { padding_side: 'left', pad_token_id: 0 })
 *   // ids [5,6,7, 0,0,8], mask [1,1,1, 0,0,1], positions [0,1,2, 0,0,0]
 */
export function padSequences(seqs: Sequences, options: PadOptions = {}): PaddedBatch {
  const o = parse(options);
  const { values, offsets } = toFlat(seqs);
  const batch = offsets.length - 1;
  const lengths = new Int32Array(batch);
  let longest = 0;
  for (let i = 0; i < batch; i++) {
    lengths[i] = offsets[i + 1]! - offsets[i]!;
    if (lengths[i]! > longest) longest = lengths[i]!;
  }
  let seqLen = o.max_length ?? longest;
  if (longest > seqLen) {
    const i = lengths.findIndex((l) => l > seqLen);
    throw new RxrlDataError(
      `sequence ${i} has ${lengths[i]} tokens, more than max_length ${seqLen}; truncate it first (data.truncation)`,
      { row: i },
    );
  }
  if (o.pad_to_multiple_of)
    seqLen = Math.ceil(seqLen / o.pad_to_multiple_of) * o.pad_to_multiple_of;
  const ids = new Int32Array(batch * seqLen).fill(o.pad_token_id);
  const mask = new Int32Array(batch * seqLen);
  const positions = new Int32Array(batch * seqLen);
  for (let i = 0; i < batch; i++) {
    const len = lengths[i]!;
    const at = i * seqLen + (o.padding_side === 'left' ? seqLen - len : 0);
    ids.set(values.subarray(offsets[i]!, offsets[i + 1]!), at);
    mask.fill(1, at, at + len);
    for (let t = 0; t < len; t++) positions[at + t] = t;
  }
  return { ids, mask, positions, lengths, batch, seqLen, paddingSide: o.padding_side };
}

/**
 * Lays a per-token list (loss mask, log-probs) out like `padded`'s ids, with
 * `fill` on padding; the list must have the same lengths as the padded sequences.
 */
export function padValues<T extends ListValues>(
  list: FlatList<T>,
  padded: PaddedBatch,
  fill = 0,
): T {
  const { values, offsets } = list;
  const out = new (values.constructor as { new (n: number): T })(padded.batch * padded.seqLen);
  if (fill !== 0) out.fill(fill);
  for (let i = 0; i < padded.batch; i++) {
    const len = offsets[i + 1]! - offsets[i]!;
    if (len !== padded.lengths[i]) {
      throw new RxrlDataError(
        `row ${i} has ${len} values but its sequence has ${padded.lengths[i]} tokens`,
        { row: i },
      );
    }
    const at = i * padded.seqLen + (padded.paddingSide === 'left' ? padded.seqLen - len : 0);
    out.set(values.subarray(offsets[i]!, offsets[i + 1]!) as any, at);
  }
  return out;
}
