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

/** One zero-filled array that every {@link frozenGradient} views (grown when too small). */
let zeroPool = new Float32Array(0);

/**
 * Float32 zeros shaped like a frozen weight, for a custom op to hand back as its
 * gradient without allocating: a view of one shared zero array that nothing
 * writes (TensorFlow.js never writes a tensor's storage; the native in-place
 * kernels write only optimizer state they own). Allocating fresh zeros per op
 * instead costs real memory once the allocator recycles freed chunks (glibc
 * zero-fills those by writing them): measured 1.2 GiB more peak RSS over two
 * LoRA steps of the Qwen2.5-0.5B layout.
 */
export function frozenGradient(shape: number[]): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  if (zeroPool.length < size) zeroPool = new Float32Array(size);
  return tf.tensor(zeroPool.subarray(0, size), shape, 'float32');
}
