import * as tf from '@tensorflow/tfjs-core';

/** Backward pass of a {@link customOp}: output gradient and saved tensors in, one gradient per input out. */
export type OpGradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];

/**
 * Typed front for `tf.customGrad`: the forward gets its inputs as an array and
 * the save function separately (tf's own signature mixes them in one rest list).
 */
export function customOp(
  forward: (
    inputs: tf.Tensor[],
    save: tf.GradSaveFunc,
  ) => { value: tf.Tensor; gradFunc: OpGradFunc },
): (...inputs: tf.Tensor[]) => tf.Tensor {
  return tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const { value, gradFunc } = forward(args.slice(0, -1) as tf.Tensor[], save);
    return {
      value,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
        gradFunc(dy as tf.Tensor, saved),
    };
  });
}
