import * as tf from '@tensorflow/tfjs-core';
import './kernelGradients';
import { customOp } from './customOp';
import { logSumExpLastAxis } from './logSoftmax';

/** Flat indices `i·V + targets[i]` into a row-major [N, V] matrix. */
function flatTargetIndex(targets: tf.Tensor1D, vocab: number): tf.Tensor1D {
  const n = targets.shape[0];
  return tf.add(tf.mul(tf.range(0, n, 1, 'int32'), tf.scalar(vocab, 'int32')), targets);
}

/**
 * `log_softmax(logits)[i, targets[i]]` for each row, fused.
 *
 * Only the row log-sum-exp `[N]` is kept for the backward pass, never an
 * `[N, V]` log-softmax; the gradient is `(onehot(targets) − softmax)·dy`.
 * The gather is on a flattened view so no gather gradient is needed.
 */
export function tokenLogProbs(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  if (logits.rank !== 2)
    throw new Error(`tokenLogProbs: expected logits [N,V], got ${JSON.stringify(logits.shape)}`);
  if (targets.rank !== 1 || targets.dtype !== 'int32' || targets.shape[0] !== logits.shape[0]) {
    throw new Error(
      `tokenLogProbs: expected targets as int32 [${logits.shape[0]}], got ${targets.dtype} ${JSON.stringify(targets.shape)}`,
    );
  }
  const [n, vocab] = logits.shape;
  const f = customOp(([l, t], save) => {
    const lg = l as tf.Tensor2D;
    const lse = tf.reshape(logSumExpLastAxis(lg), [n]);
    const picked = tf.gather(tf.reshape(lg, [n * vocab]), flatTargetIndex(t as tf.Tensor1D, vocab));
    save([lg, t, lse]);
    return {
      value: tf.sub(picked, lse),
      gradFunc: (dy, saved) => {
        const [ls, ts, lses] = saved as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D];
        const probs = tf.exp(tf.sub(ls, tf.reshape(lses, [n, 1])));
        // int32 one-hot then cast: wasm's OneHot writes int bits into a float32 output
        const onehot = tf.cast(tf.oneHot(ts, vocab), 'float32');
        return [
          tf.mul(tf.sub(onehot, probs), tf.reshape(dy as tf.Tensor, [n, 1])),
          tf.zeros(ts.shape),
        ];
      },
    };
  });
  return f(logits, targets) as tf.Tensor1D;
}

/** Entropy of `softmax(logits)` per row, `lse − Σ p·logits` (no gradient intended). */
export function tokenEntropy(logits: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const lse = logSumExpLastAxis(logits);
    const p = tf.exp(tf.sub(logits, lse));
    return tf.reshape(tf.sub(lse, tf.sum(tf.mul(p, logits), -1, true)), [
      logits.shape[0],
    ]) as tf.Tensor1D;
  });
}
