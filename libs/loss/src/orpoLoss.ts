import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { LossResult } from './lossResult';
import { expectShape, logSigmoid, maskedMean, metric, stopGradient } from './masked';
import { chosenNll, sideLogps, type PairLogpsInputs } from './pairLogps';

/** Options of {@link orpoLoss}: TRL `ORPOConfig` names. */
export const orpoLossOptionsSchema = z
  .object({
    /** λ, the weight of the odds-ratio term against the NLL (TRL `beta`; Hong et al. 2024, https://arxiv.org/abs/2403.07691) */
    beta: z.number().min(0).default(0.1),
  })
  .strict();
export type OrpoLossOptions = z.infer<typeof orpoLossOptionsSchema>;
export type OrpoLossOptionsInput = z.input<typeof orpoLossOptionsSchema>;

/**
 * ORPO, monolithic preference optimisation without a reference model (Hong et
 * al. 2024, https://arxiv.org/abs/2403.07691), as TRL's ORPOTrainer computes it.
 * With the token-averaged log-probs c, r of chosen and rejected responses,
 * log odds(p) = log p − log(1 − p), and
 *   L = NLL(chosen) − λ · mean_pairs log σ(log odds(c) − log odds(r)),
 * where the NLL is the token mean over the chosen responses of the global batch.
 * Metrics (TRL names): `loss`, `nll_loss`, `or_loss` (−λ·mean log σ), `log_odds_ratio`
 * (mean log σ), `log_odds_chosen` (mean log-odds difference), `rewards_chosen_mean` /
 * `rewards_rejected_mean` (λ·c, λ·r), `accuracy`, `num_valid_samples`.
 */
export function orpoLoss(
  options: OrpoLossOptionsInput | OrpoLossOptions,
  inputs: PairLogpsInputs,
): LossResult {
  const o = orpoLossOptionsSchema.parse(options);
  const B = inputs.policyChosenLogps.shape[0]!;
  expectShape('orpoLoss sampleMask', inputs.sampleMask, [B]);
  return tf.tidy(() => {
    const sampleMask = inputs.sampleMask ?? tf.ones([B]);
    const meanPairs = (v: tf.Tensor) => maskedMean(v, sampleMask, inputs.globalValidPairs);
    const chosen = sideLogps(
      'orpoLoss',
      'policyChosenLogps',
      inputs.policyChosenLogps,
      inputs.chosenMask,
      inputs.chosenLengths,
      B,
    );
    const rejected = sideLogps(
      'orpoLoss',
      'policyRejectedLogps',
      inputs.policyRejectedLogps,
      inputs.rejectedMask,
      inputs.rejectedLengths,
      B,
    );
    const c = chosen.avg;
    const r = rejected.avg;
    // log(p / (1 − p)) of the mean token probability, log1p(−e^x) for log(1 − p)
    const logOdds = tf.sub(
      tf.sub(c, r),
      tf.sub(tf.log1p(tf.neg(tf.exp(c))), tf.log1p(tf.neg(tf.exp(r)))),
    );
    const ratio = logSigmoid(logOdds);
    const orLoss = tf.neg(tf.mul(meanPairs(ratio), o.beta)) as tf.Scalar;
    const nll = chosenNll(chosen, sampleMask, inputs.globalChosenToks);
    const loss = tf.add(nll, orLoss) as tf.Scalar;
    const cD = stopGradient(c);
    const rD = stopGradient(r);
    const lo = stopGradient(logOdds);
    return {
      loss,
      metrics: {
        loss: metric(() => loss, loss),
        nll_loss: metric(() => nll, nll),
        or_loss: metric(() => orLoss, orLoss),
        log_odds_ratio: metric(() => meanPairs(logSigmoid(lo)), lo),
        log_odds_chosen: metric(() => meanPairs(lo), lo),
        rewards_chosen_mean: metric(() => tf.mul(meanPairs(cD), o.beta), cD),
        rewards_rejected_mean: metric(() => tf.mul(meanPairs(rD), o.beta), rD),
        accuracy: metric(() => meanPairs(tf.cast(tf.greater(cD, rD), 'float32')), cD, rD),
        num_valid_samples: metric(() => tf.sum(sampleMask), sampleMask),
      },
    };
  });
}
