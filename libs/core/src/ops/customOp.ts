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

/**
 * Whether `x` is a variable that trains nothing (`trainable: false`: a LoRA
 * run's frozen base weights, a reference model's). A custom op's backward
 * computes every input's gradient at once (tf.customGrad asks for all), and
 * tf discards the ones no differentiated input depends on only afterwards; an
 * op checks this in its forward, where it sees its inputs as given (its
 * backward gets copies), and returns lazily allocated zeros for a frozen
 * weight instead of a gradient product (for a frozen tied head, a full
 * `[V, D]` product per logits chunk, and the chunks' running sum).
 * Differentiating with respect to a non-trainable variable therefore gives
 * zeros; `tf.variableGrads` never asks for one.
 */
export function isFrozen(x: tf.Tensor): boolean {
  return x instanceof tf.Variable && !x.trainable;
}
