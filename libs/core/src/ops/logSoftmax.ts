import * as tf from '@tensorflow/tfjs-core';
import './kernelGradients';
import { customOp } from './customOp';
import { LOG_SUM_EXP_KERNEL, NATIVE_BACKEND } from '../backend/nativeNames';

/** Row-wise `log(sum(exp(x)))` over the last axis, shifted by the row max so large logits do not overflow. */
export function logSumExpLastAxis(x: tf.Tensor): tf.Tensor {
  // One native two-pass kernel instead of five JavaScript passes over [rows, vocab].
  if (tf.getBackend() === NATIVE_BACKEND && x.dtype === 'float32')
    return tf.engine().runKernel(LOG_SUM_EXP_KERNEL, { x }) as tf.Tensor;
  return tf.tidy(() => {
    const m = tf.max(x, -1, true);
    const s = tf.sum(tf.exp(tf.sub(x, m)), -1, true);
    return tf.add(m, tf.log(s));
  });
}

const logSoftmaxGrad = customOp(([x], save) => {
  const y = tf.sub(x, logSumExpLastAxis(x));
  save([y]);
  return {
    value: y,
    // d/dx log_softmax: dy − softmax·Σdy (softmax = exp(y), no second max/exp pass)
    gradFunc: (dy, saved) => {
      const [ys] = saved as [tf.Tensor];
      return [tf.sub(dy as tf.Tensor, tf.mul(tf.exp(ys), tf.sum(dy as tf.Tensor, -1, true)))];
    },
  };
});

/** Numerically stable log-softmax over the last axis (float32; safe for logits ~1e4). */
export function logSoftmax<T extends tf.Tensor>(logits: T): T {
  return logSoftmaxGrad(logits) as T;
}
