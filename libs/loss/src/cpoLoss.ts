import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { LossResult } from './lossResult';
import { expectShape, logSigmoid, maskedMean, metric, stopGradient } from './masked';
import { chosenNll, sideLogps, type PairLogpsInputs } from './pairLogps';

/** TRL `CPOConfig.loss_type` values supported here. */
export const CPO_LOSS_TYPES = ['sigmoid', 'hinge', 'ipo', 'simpo'] as const;

/** Options of {@link cpoLoss}: TRL `CPOConfig` names. */
export const cpoLossOptionsSchema = z
  .object({
    /** β, the scale of the log-probability difference (TRL `beta`) */
    beta: z.number().positive().default(0.1),
    /** sigmoid / hinge / ipo: CPO (Xu et al. 2024, https://arxiv.org/abs/2401.08417); simpo: SimPO (Meng et al. 2024, https://arxiv.org/abs/2405.14734), on length-averaged log-probs with a target margin */
    loss_type: z.enum(CPO_LOSS_TYPES).default('sigmoid'),
    /** label smoothing ε of sigmoid / simpo (conservative DPO) */
    label_smoothing: z.number().min(0).max(0.5).default(0),
    /** weight of the behaviour-cloning NLL on the chosen responses (CPO's α); SimPO uses 0 */
    cpo_alpha: z.number().min(0).default(1),
    /** SimPO's target reward margin γ */
    simpo_gamma: z.number().default(0.5),
  })
  .strict();
export type CpoLossOptions = z.infer<typeof cpoLossOptionsSchema>;
export type CpoLossOptionsInput = z.input<typeof cpoLossOptionsSchema>;

/**
 * CPO and SimPO, reference-free pair losses, as TRL's CPOTrainer computes them.
 * With c, r the policy log-probs of chosen and rejected (summed per response;
 * token-averaged for ipo and simpo) and d = c − r:
 * sigmoid −(1−ε)·log σ(βd) − ε·log σ(−βd); hinge relu(1 − βd); ipo (d − 1/(2β))²;
 * simpo the sigmoid form on d − γ/β. L = mean_pairs + cpo_alpha · NLL(chosen),
 * the NLL a token mean over the chosen responses of the global batch.
 * Metrics: `loss`, `nll_loss`, `preference_loss`, `rewards_chosen_mean` /
 * `rewards_rejected_mean` (β·c, β·r), `reward_margin`, `accuracy`, `num_valid_samples`.
 */
export function cpoLoss(
  options: CpoLossOptionsInput | CpoLossOptions,
  inputs: PairLogpsInputs,
): LossResult {
  const o = cpoLossOptionsSchema.parse(options);
  const B = inputs.policyChosenLogps.shape[0]!;
  expectShape('cpoLoss sampleMask', inputs.sampleMask, [B]);
  return tf.tidy(() => {
    const sampleMask = inputs.sampleMask ?? tf.ones([B]);
    const meanPairs = (v: tf.Tensor) => maskedMean(v, sampleMask, inputs.globalValidPairs);
    const chosen = sideLogps(
      'cpoLoss',
      'policyChosenLogps',
      inputs.policyChosenLogps,
      inputs.chosenMask,
      inputs.chosenLengths,
      B,
    );
    const rejected = sideLogps(
      'cpoLoss',
      'policyRejectedLogps',
      inputs.policyRejectedLogps,
      inputs.rejectedMask,
      inputs.rejectedLengths,
      B,
    );
    const average = o.loss_type === 'ipo' || o.loss_type === 'simpo';
    const c = average ? chosen.avg : chosen.sum;
    const r = average ? rejected.avg : rejected.sum;
    const d = tf.sub(c, r);
    const eps = o.label_smoothing;
    const smoothed = (x: tf.Tensor) =>
      tf.sub(tf.mul(tf.neg(logSigmoid(x)), 1 - eps), tf.mul(logSigmoid(tf.neg(x)), eps));
    let perPair: tf.Tensor;
    switch (o.loss_type) {
      case 'sigmoid':
        perPair = smoothed(tf.mul(d, o.beta));
        break;
      case 'hinge':
        perPair = tf.relu(tf.sub(1, tf.mul(d, o.beta)));
        break;
      case 'ipo':
        perPair = tf.square(tf.sub(d, 1 / (2 * o.beta)));
        break;
      case 'simpo':
        perPair = smoothed(tf.mul(tf.sub(d, o.simpo_gamma / o.beta), o.beta));
        break;
    }
    const preference = meanPairs(perPair);
    const nll =
      o.cpo_alpha > 0
        ? chosenNll(chosen, sampleMask, inputs.globalChosenToks)
        : (tf.scalar(0) as tf.Scalar);
    const loss = tf.add(preference, tf.mul(nll, o.cpo_alpha)) as tf.Scalar;
    const cD = stopGradient(c);
    const rD = stopGradient(r);
    return {
      loss,
      metrics: {
        loss: metric(() => loss, loss),
        nll_loss: metric(() => nll, nll),
        preference_loss: metric(() => preference, preference),
        rewards_chosen_mean: metric(() => tf.mul(meanPairs(cD), o.beta), cD),
        rewards_rejected_mean: metric(() => tf.mul(meanPairs(rD), o.beta), rD),
        reward_margin: metric(() => tf.mul(meanPairs(tf.sub(cD, rD)), o.beta), cD, rD),
        accuracy: metric(() => meanPairs(tf.cast(tf.greater(cD, rD), 'float32')), cD, rD),
        num_valid_samples: metric(() => tf.sum(sampleMask), sampleMask),
      },
    };
  });
}
