import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { LossResult } from './lossResult';
import { expectShape, maskedMean, metric } from './masked';

/** Options of {@link gkdLoss}: TRL `GKDConfig` names. */
export const gkdLossOptionsSchema = z
  .object({
    /** β of the generalised JSD: 0 is KL(teacher ‖ student), 1 is KL(student ‖ teacher), between them the β-skewed JSD (Agarwal et al. 2024, https://arxiv.org/abs/2306.13649) */
    beta: z.number().min(0).max(1).default(0.5),
    /** temperature both distributions are softened by before the divergence */
    temperature: z.number().positive().default(1),
  })
  .strict();
export type GkdLossOptions = z.infer<typeof gkdLossOptionsSchema>;
export type GkdLossOptionsInput = z.input<typeof gkdLossOptionsSchema>;

/** Inputs of {@link gkdLoss}: full next-token distributions at N scored positions. */
export interface GkdInputs {
  /** student logits [N, V] (the differentiated input) */
  studentLogits: tf.Tensor2D;
  /** teacher logits or log-probs [N, V] (constant; log-softmax is taken again, so either works at temperature 1) */
  teacherLogits: tf.Tensor2D;
  /** 1 for positions that train, [N]; default all ones */
  tokenMask?: tf.Tensor1D;
  /** valid positions over the whole global batch; default this batch's count */
  globalValidToks?: number;
}

/** Σ_v e^{p_v}·(p_v − q_v): KL(P ‖ Q) per row from log-probs p, q. */
function klRows(logP: tf.Tensor, logQ: tf.Tensor): tf.Tensor {
  return tf.sum(tf.mul(tf.exp(logP), tf.sub(logP, logQ)), -1);
}

/**
 * Generalised Jensen–Shannon divergence of GKD (on-policy distillation, Agarwal
 * et al. 2024), as TRL's `GKDTrainer.generalized_jsd_loss`: with s, t the student's and
 * teacher's log-softmax of logits / temperature and the mixture m = log(β·e^t + (1 − β)·e^s),
 * JSD_β = β·KL(t ‖ m) + (1 − β)·KL(s ‖ m); β = 0 is KL(t ‖ s), β = 1 is KL(s ‖ t).
 * Averaged over the valid positions (global count, so micro-batches add up).
 * Metrics: `loss`, `num_unmasked_tokens`.
 */
export function gkdLoss(
  options: GkdLossOptionsInput | GkdLossOptions,
  inputs: GkdInputs,
): LossResult {
  const o = gkdLossOptionsSchema.parse(options);
  const [N, V] = inputs.studentLogits.shape;
  expectShape('gkdLoss teacherLogits', inputs.teacherLogits, [N, V]);
  expectShape('gkdLoss tokenMask', inputs.tokenMask, [N]);
  return tf.tidy(() => {
    const mask = inputs.tokenMask ?? tf.ones([N]);
    const s = tf.logSoftmax(tf.div(inputs.studentLogits, o.temperature));
    const t = tf.logSoftmax(tf.div(inputs.teacherLogits, o.temperature));
    let perPos: tf.Tensor;
    if (o.beta === 0) perPos = klRows(t, s);
    else if (o.beta === 1) perPos = klRows(s, t);
    else {
      const m = tf.logSumExp(
        tf.stack([tf.add(s, Math.log(1 - o.beta)), tf.add(t, Math.log(o.beta))]),
        0,
      );
      perPos = tf.add(tf.mul(klRows(t, m), o.beta), tf.mul(klRows(s, m), 1 - o.beta));
    }
    const loss = maskedMean(perPos, mask, inputs.globalValidToks);
    return {
      loss,
      metrics: {
        loss: metric(() => loss, loss),
        num_unmasked_tokens: metric(() => tf.sum(mask), mask),
      },
    };
  });
}
