import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { LossResult } from './lossResult';
import { expectShape, logSigmoid, maskedMean, metric, stopGradient } from './masked';

/** Options of {@link preferenceLoss} (TRL `RewardConfig` names). */
export const preferenceLossOptionsSchema = z
  .object({
    /** η of the auxiliary loss η·mean((r_c + r_r)²) that centres rewards on 0 (Eisenstein et al. 2023, https://arxiv.org/abs/2312.09244); null disables */
    center_rewards_coefficient: z.number().min(0).nullable().default(null),
  })
  .strict();
export type PreferenceLossOptions = z.infer<typeof preferenceLossOptionsSchema>;

/** Inputs of {@link preferenceLoss}: scalar rewards of each pair's chosen and rejected response. */
export interface PreferenceInputs {
  rewardsChosen: tf.Tensor1D;
  rewardsRejected: tf.Tensor1D;
  /** per-pair margin m_i subtracted inside the sigmoid (Llama 2, https://arxiv.org/abs/2307.09288) */
  margin?: tf.Tensor1D;
  /** 0 drops a pair, [B]; default all ones */
  sampleMask?: tf.Tensor1D;
  /** valid pairs over the global batch; default this batch's */
  globalValidPairs?: number;
}

/**
 * Bradley–Terry reward-model loss: mean over valid pairs of
 * −log σ(r_c − r_r − m) (+ η·(r_c + r_r)² when centring), normalised by the
 * global pair count. Metrics (NeMo RL PreferenceLoss): `loss`, `accuracy`,
 * `rewards_chosen_mean`, `rewards_rejected_mean`, `num_valid_samples`, and
 * `center_loss` when centring.
 */
export function preferenceLoss(
  options: z.input<typeof preferenceLossOptionsSchema>,
  inputs: PreferenceInputs,
): LossResult {
  const o = preferenceLossOptionsSchema.parse(options);
  const B = inputs.rewardsChosen.shape[0];
  expectShape('preferenceLoss rewardsRejected', inputs.rewardsRejected, [B]);
  expectShape('preferenceLoss margin', inputs.margin, [B]);
  expectShape('preferenceLoss sampleMask', inputs.sampleMask, [B]);
  return tf.tidy(() => {
    const sampleMask = inputs.sampleMask ?? tf.ones([B]);
    const mean = (v: tf.Tensor) => maskedMean(v, sampleMask, inputs.globalValidPairs);
    let d = tf.sub(inputs.rewardsChosen, inputs.rewardsRejected);
    if (inputs.margin) d = tf.sub(d, inputs.margin);
    const bt = mean(tf.neg(logSigmoid(d)));
    let loss = bt;
    const metrics: LossResult['metrics'] = {};
    if (o.center_rewards_coefficient !== null) {
      const center = mean(tf.square(tf.add(inputs.rewardsChosen, inputs.rewardsRejected)));
      metrics['center_loss'] = metric(() => center, center);
      loss = tf.add(loss, tf.mul(center, o.center_rewards_coefficient)) as tf.Scalar;
    }
    const c = stopGradient(inputs.rewardsChosen);
    const r = stopGradient(inputs.rewardsRejected);
    Object.assign(metrics, {
      loss: metric(() => loss, loss),
      accuracy: metric(() => mean(tf.cast(tf.greater(c, r), 'float32')), c, r),
      rewards_chosen_mean: metric(() => mean(c), c),
      rewards_rejected_mean: metric(() => mean(r), r),
      num_valid_samples: metric(() => tf.sum(sampleMask), sampleMask),
    });
    return { loss, metrics };
  });
}
