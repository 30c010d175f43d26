import * as tf from '@tensorflow/tfjs-core';
import { LM_HEAD_GRAD_KERNEL, LM_HEAD_KERNEL } from '../backend/nativeNames';
import { fusedKernelFor } from './activations';
import { customOp, frozenGradient, isFrozen } from './customOp';

/** What the native LM-head kernels need besides their tensors. */
export interface LmHeadKernelAttrs {
  vocabMajor: boolean;
  /** 1 / temperature */
  invT: number;
  chunkRows: number;
}

/** Whether the `native` backend runs the LM head's token log-probs as one kernel each way. */
export function nativeLmHeadAvailable(hidden: tf.Tensor, head: tf.Tensor): boolean {
  return fusedKernelFor(LM_HEAD_KERNEL, hidden, head);
}

/**
 * {@link lmHeadTokenLogProbs} on the `native` backend: the same chunked forward and
 * backward (the same products and row kernels, so the same bits), with each chunk's
 * logits in the kernel's scratch buffer rather than fresh `[rows, V]` tensors.
 * Callers check {@link nativeLmHeadAvailable} and validate their inputs first.
 */
export function nativeLmHeadTokenLogProbs(
  hidden: tf.Tensor2D,
  head: tf.Tensor2D,
  targets: tf.Tensor1D,
  attrs: LmHeadKernelAttrs,
): tf.Tensor1D {
  const kernelAttrs = attrs as unknown as tf.NamedAttrMap;
  const f = customOp(([h, w, t], save) => {
    // as in the op-by-op path: a frozen head (LoRA's tied embedding) gets no [V, D] product
    const frozen = isFrozen(w!);
    // the ticket lets the backward reuse this forward's logits while the kernel's scratch
    // still holds them (all rows in one chunk, no other LM-head call in between)
    const [value, lse, ticket] = tf
      .engine()
      .runKernel(LM_HEAD_KERNEL, { hidden: h!, head: w!, targets: t! }, kernelAttrs) as tf.Tensor[];
    save([h!, w!, t!, lse!, ticket!]);
    return {
      value: value!,
      gradFunc: (dy, [hs, ws, ts, lses, tk]) => {
        const grads = tf
          .engine()
          .runKernel(
            LM_HEAD_GRAD_KERNEL,
            { hidden: hs!, head: ws!, targets: ts!, lse: lses!, dy, ticket: tk! },
            { ...kernelAttrs, headGrad: !frozen },
          ) as tf.Tensor[];
        return [grads[0]!, frozen ? frozenGradient(ws!.shape) : grads[1]!, tf.zeros(ts!.shape)];
      },
    };
  });
  return f(hidden, head, targets) as tf.Tensor1D;
}
