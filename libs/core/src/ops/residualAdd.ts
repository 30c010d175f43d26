import * as tf from '@tensorflow/tfjs-core';
import './kernelGradients';
import { customOp } from './customOp';

// tf.add's gradient keeps both operands on the tape (it needs their shapes to
// undo a broadcast); for two tensors of one shape the gradient is dy for both
// and nothing needs keeping. At real size that is two [tokens, out] arrays per
// LoRA-adapted projection and per residual connection while activations are kept.
const addSameShape = customOp(([a, b]) => ({
  value: tf.add(a!, b!),
  // clones share dy's storage: the tape disposes what it is handed, so not dy itself
  gradFunc: (dy) => [dy.clone(), dy.clone()],
}));

/**
 * `a + b` for operands of one shape (a residual connection, a projection plus
 * its adapter's term), keeping neither operand for the backward pass.
 */
export function residualAdd<T extends tf.Tensor>(a: T, b: T): T {
  if (a.shape.join() !== b.shape.join() || a.dtype !== b.dtype)
    throw new Error(
      `residualAdd: operands must have one shape and dtype, got ${a.dtype} ${JSON.stringify(a.shape)} and ${b.dtype} ${JSON.stringify(b.shape)}`,
    );
  return addSameShape(a, b) as T;
}
