import * as tf from '@tensorflow/tfjs-core';
import './kernelGradients';
import { customOp, frozenGradient, isFrozen } from './customOp';
import { matMulT } from './matMulRouting';

// wasm runs XNNPACK only for plain 2-D matMuls with neither operand transposed;
// tf's own matMul gradient uses transposed products (scalar loop, up to 20x slower).
// matMulT materialises the transpose there, and uses a transposed product where
// the backend (or the native kernel) makes that the faster choice.
const linearNoBias = customOp(([x, w], save) => {
  save([x as tf.Tensor2D, w as tf.Tensor2D]);
  const frozen = isFrozen(w!);
  return {
    value: tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D),
    gradFunc: (dy, saved) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      const g = dy as tf.Tensor2D;
      return [
        matMulT(g, ws, false, true),
        frozen ? frozenGradient(ws.shape) : matMulT(xs, g, true, false),
      ];
    },
  };
});

const linearBias = customOp(([x, w, b], save) => {
  save([x as tf.Tensor2D, w as tf.Tensor2D]);
  const frozen = isFrozen(w!);
  return {
    value: tf.add(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D), b as tf.Tensor1D),
    gradFunc: (dy, saved) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      const g = dy as tf.Tensor2D;
      return [
        matMulT(g, ws, false, true),
        frozen ? frozenGradient(ws.shape) : matMulT(xs, g, true, false),
        tf.sum(g, 0),
      ];
    },
  };
});

/**
 * Affine map `x·w + b` with weights stored `[in, out]`.
 *
 * Forward and backward are plain non-transposed 2-D matMuls (dX = dY·Wᵀ,
 * dW = Xᵀ·dY with the transposes materialised), the fast path on wasm.
 */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor2D {
  if (x.rank !== 2 || w.rank !== 2 || x.shape[1] !== w.shape[0]) {
    throw new Error(
      `linear: expected x [N,in] and w [in,out] with matching 'in', got x ${JSON.stringify(x.shape)} and w ${JSON.stringify(w.shape)}`,
    );
  }
  if (b !== undefined && (b.rank !== 1 || b.shape[0] !== w.shape[1])) {
    throw new Error(`linear: expected bias [${w.shape[1]}], got ${JSON.stringify(b.shape)}`);
  }
  return (b === undefined ? linearNoBias(x, w) : linearBias(x, w, b)) as tf.Tensor2D;
}

const linearWT = customOp(([x, w], save) => {
  save([x as tf.Tensor2D, w as tf.Tensor2D]);
  const frozen = isFrozen(w!);
  return {
    value: matMulT(x as tf.Tensor2D, w as tf.Tensor2D, false, true),
    gradFunc: (dy, saved) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      const g = dy as tf.Tensor2D;
      // dX = dY·W, dW = dYᵀ·X
      return [tf.matMul(g, ws), frozen ? frozenGradient(ws.shape) : matMulT(g, xs, true, false)];
    },
  };
});

/**
 * `x·wᵀ` with `w` stored `[out, in]` — a tied LM head reading the `[V, D]`
 * embedding directly. Where transposed products are fast (every backend but
 * plain wasm) nothing is transposed; a tied Qwen2.5-0.5B head would otherwise
 * copy its 544 MB embedding on every forward.
 */
export function linearTransposed(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  if (x.rank !== 2 || w.rank !== 2 || x.shape[1] !== w.shape[1]) {
    throw new Error(
      `linearTransposed: expected x [N,in] and w [out,in] with matching 'in', got x ${JSON.stringify(x.shape)} and w ${JSON.stringify(w.shape)}`,
    );
  }
  return linearWT(x, w) as tf.Tensor2D;
}
