import * as tf from '@tensorflow/tfjs-core';

/** One tokenised training sequence and which of its tokens train (1) or not (0). */
export interface LmSequence {
  tokens: ArrayLike<number>;
  mask: ArrayLike<number>;
}

/** Right-padded, shifted next-token arrays of a batch: row-major [batch, seqLen]. */
export interface LmBatchArrays {
  /** tokens 0..L-2 of each sequence */
  ids: Int32Array;
  /** 1 on real input positions */
  attention: Int32Array;
  /** tokens 1..L-1: what position t predicts */
  targets: Int32Array;
  /** loss mask of the targets (0 on padding) */
  tokenMask: Float32Array;
  batch: number;
  seqLen: number;
}

/**
 * Lay sequences out for next-token training: inputs are tokens[0..L-2], targets
 * tokens[1..L-1], the target mask is the loss mask shifted the same way, so
 * per-token tensors are aligned to the tokens they score (DESIGN.md).
 */
export function lmBatchArrays(seqs: readonly LmSequence[], padTokenId = 0): LmBatchArrays {
  const batch = seqs.length;
  const seqLen = Math.max(1, ...seqs.map((s) => s.tokens.length - 1));
  const ids = new Int32Array(batch * seqLen).fill(padTokenId);
  const attention = new Int32Array(batch * seqLen);
  const targets = new Int32Array(batch * seqLen).fill(padTokenId);
  const tokenMask = new Float32Array(batch * seqLen);
  seqs.forEach((s, b) => {
    const n = s.tokens.length - 1;
    for (let t = 0; t < n; t++) {
      ids[b * seqLen + t] = s.tokens[t]!;
      attention[b * seqLen + t] = 1;
      targets[b * seqLen + t] = s.tokens[t + 1]!;
      tokenMask[b * seqLen + t] = s.mask[t + 1]! ? 1 : 0;
    }
  });
  return { ids, attention, targets, tokenMask, batch, seqLen };
}

/** Tensors of {@link lmBatchArrays}; the caller disposes them (or builds them inside tf.tidy). */
export function lmBatchTensors(a: LmBatchArrays): {
  ids: tf.Tensor2D;
  attention: tf.Tensor2D;
  targets: tf.Tensor2D;
  tokenMask: tf.Tensor2D;
} {
  const shape: [number, number] = [a.batch, a.seqLen];
  return {
    ids: tf.tensor2d(a.ids, shape, 'int32'),
    attention: tf.tensor2d(a.attention, shape, 'int32'),
    targets: tf.tensor2d(a.targets, shape, 'int32'),
    tokenMask: tf.tensor2d(a.tokenMask, shape, 'float32'),
  };
}

/** Count of loss tokens of the sequences (after the shift: the first token never trains). */
export function countLossTokens(seqs: readonly LmSequence[]): number {
  let n = 0;
  for (const s of seqs) for (let t = 1; t < s.mask.length; t++) if (s.mask[t]) n++;
  return n;
}
