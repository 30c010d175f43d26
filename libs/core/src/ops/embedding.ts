import * as tf from '@tensorflow/tfjs-core';
import './kernelGradients';
import { customOp, frozenGradient, isFrozen } from './customOp';

/**
 * Row lookup `table[ids]`.
 *
 * tf's gather gradient needs UnsortedSegmentSum, which wasm lacks; the gradient
 * here is a scatterND of the output gradient into a dense `[V, D]` table
 * (duplicate ids accumulate), O(N·D) work and no one-hot matrix.
 */
export function embedding(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  if (table.rank !== 2)
    throw new Error(`embedding: expected table [V,D], got ${JSON.stringify(table.shape)}`);
  if (ids.rank !== 1 || ids.dtype !== 'int32') {
    throw new Error(
      `embedding: expected ids as a 1-D int32 tensor, got rank ${ids.rank} ${ids.dtype}`,
    );
  }
  const [vocab, dim] = table.shape;
  const f = customOp(([t, i], save) => {
    save([i]);
    const frozen = isFrozen(t!);
    return {
      value: tf.gather(t as tf.Tensor2D, i as tf.Tensor1D),
      gradFunc: (dy, saved) => {
        const [idx] = saved as [tf.Tensor1D];
        if (frozen) return [frozenGradient([vocab, dim]), tf.zeros(idx.shape)];
        const dTable =
          tf.getBackend() === 'wasm'
            ? tf.scatterND(tf.reshape(idx, [-1, 1]), dy as tf.Tensor2D, [vocab, dim])
            : scatterRows(idx, dy as tf.Tensor2D, vocab, dim);
        return [dTable, tf.zeros(idx.shape)];
      },
    };
  });
  return f(table, ids) as tf.Tensor2D;
}

/**
 * `out[ids[i]] += rows[i]` into fresh `[V, D]` zeros, in index order (the sums of
 * scatterND), on the backends whose tensors are plain arrays (cpu, native): the
 * zeros are never written except at the rows the ids name, so a 151,936-row
 * table costs the pages of those rows, not a zero-fill of 544 MB.
 */
function scatterRows(ids: tf.Tensor1D, rows: tf.Tensor2D, vocab: number, dim: number): tf.Tensor2D {
  const out = new Float32Array(vocab * dim);
  const idv = ids.dataSync();
  const dv = rows.dataSync();
  for (let i = 0; i < idv.length; i++) {
    const at = idv[i]! * dim;
    for (let j = 0; j < dim; j++) out[at + j]! += dv[i * dim + j]!;
  }
  return tf.tensor2d(out, [vocab, dim]);
}
