import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { LossResult } from './lossResult';
import { constant, expectShape, maskedMean, metric, NORM_EPS, stopGradient } from './masked';

/** TRL `KTOConfig.loss_type` values. */
export const KTO_LOSS_TYPES = ['kto', 'apo_zero_unpaired'] as const;

/** Options of {@link ktoLoss}: TRL `KTOConfig` names. */
export const ktoLossOptionsSchema = z
  .object({
    /** β, the scale of the implicit reward log π/π_ref (TRL `beta`) */
    beta: z.number().positive().default(0.1),
    /** kto: Kahneman–Tversky optimisation (Ethayarajh et al. 2024, https://arxiv.org/abs/2402.01306); apo_zero_unpaired: APO-zero on unpaired data (D'Oosterlinck et al. 2024, https://arxiv.org/abs/2408.06266), no KL estimate */
    loss_type: z.enum(KTO_LOSS_TYPES).default('kto'),
    /** λ_D, the weight of desirable examples' losses */
    desirable_weight: z.number().min(0).default(1),
    /** λ_U, the weight of undesirable examples' losses */
    undesirable_weight: z.number().min(0).default(1),
  })
  .strict();
export type KtoLossOptions = z.infer<typeof ktoLossOptionsSchema>;
export type KtoLossOptionsInput = z.input<typeof ktoLossOptionsSchema>;

/**
 * Inputs of {@link ktoLoss}: unpaired completions, each labelled desirable or
 * not. Log-probs are per sequence [B] (summed) or per token [B, T] with `mask`.
 */
export interface KtoInputs {
  policyLogps: tf.Tensor;
  referenceLogps: tf.Tensor;
  mask?: tf.Tensor2D;
  /** 1 for a desirable completion, 0 for an undesirable one, [B] */
  desirable: tf.Tensor1D;
  /** 0 drops a sample, [B]; default all ones */
  sampleMask?: tf.Tensor1D;
  /** valid samples over the whole global batch; default this batch's count */
  globalValidSamples?: number;
  /** valid desirable / undesirable samples over the global batch (normalisers of the reward metrics); default this batch's */
  globalDesirable?: number;
  globalUndesirable?: number;
  /**
   * The reference point z₀ = max(0, mean KL estimate), given directly (computed over
   * the global batch, so micro-batches add up) ...
   */
  kl?: number;
  /** ... or estimated here from mismatched (prompt, completion) pairs: log π and log π_ref [K] or [K, T] with klMask */
  klPolicyLogps?: tf.Tensor;
  klReferenceLogps?: tf.Tensor;
  klMask?: tf.Tensor2D;
}

function sequenceSum(name: string, lp: tf.Tensor, mask: tf.Tensor2D | undefined): tf.Tensor1D {
  if (lp.rank === 1) return lp as tf.Tensor1D;
  if (!mask) throw new Error(`ktoLoss: ${name} is per token [B, T], so its mask is required`);
  expectShape(`ktoLoss ${name}`, lp, mask.shape);
  return tf.sum(tf.mul(lp, mask), -1) as tf.Tensor1D;
}

/**
 * KTO as TRL's KTOTrainer computes it. With the implicit reward
 * ρ = log π(y|x) − log π_ref(y|x) and the reference point z₀ (the batch-mean
 * KL estimate on mismatched pairs, clamped at 0 and not differentiated):
 * desirable λ_D·(1 − σ(β(ρ − z₀))), undesirable λ_U·(1 − σ(β(z₀ − ρ))), averaged
 * over all valid samples. `apo_zero_unpaired`: 1 − σ(βρ) and σ(βρ), no z₀.
 * Metrics (each sums to its global value over micro-batches): `loss`, `kl` (z₀), `rewards_chosen_mean` / `rewards_rejected_mean`
 * (mean β·ρ over desirable / undesirable samples, normalised by the global counts
 * when given), `num_desirable`,
 * `num_undesirable`.
 */
export function ktoLoss(
  options: KtoLossOptionsInput | KtoLossOptions,
  inputs: KtoInputs,
): LossResult {
  const o = ktoLossOptionsSchema.parse(options);
  const B = inputs.policyLogps.shape[0]!;
  expectShape('ktoLoss desirable', inputs.desirable, [B]);
  expectShape('ktoLoss sampleMask', inputs.sampleMask, [B]);
  const needKl = o.loss_type === 'kto';
  const hasPair = inputs.klPolicyLogps !== undefined && inputs.klReferenceLogps !== undefined;
  if (needKl && inputs.kl === undefined && !hasPair) {
    throw new Error(
      "ktoLoss: loss_type 'kto' needs the reference point: kl, or klPolicyLogps and klReferenceLogps of mismatched pairs",
    );
  }
  return tf.tidy(() => {
    const sampleMask = inputs.sampleMask ?? tf.ones([B]);
    const rho = tf.sub(
      sequenceSum('policyLogps', inputs.policyLogps, inputs.mask),
      sequenceSum('referenceLogps', inputs.referenceLogps, inputs.mask),
    );
    let z0: tf.Scalar = tf.scalar(0);
    if (needKl) {
      if (inputs.kl !== undefined) z0 = tf.scalar(Math.max(0, inputs.kl));
      else {
        const p = sequenceSum('klPolicyLogps', inputs.klPolicyLogps!, inputs.klMask);
        const r = sequenceSum('klReferenceLogps', inputs.klReferenceLogps!, inputs.klMask);
        z0 = constant((a, b) => tf.maximum(tf.mean(tf.sub(a, b)), 0), p, r) as tf.Scalar;
      }
    }
    const good = constant((d) => tf.greater(d, 0), inputs.desirable);
    const b = o.beta;
    const perSample =
      o.loss_type === 'kto'
        ? tf.where(
            good as tf.Tensor,
            tf.mul(tf.sub(1, tf.sigmoid(tf.mul(tf.sub(rho, z0), b))), o.desirable_weight),
            tf.mul(tf.sub(1, tf.sigmoid(tf.mul(tf.sub(z0, rho), b))), o.undesirable_weight),
          )
        : tf.where(
            good as tf.Tensor,
            tf.mul(tf.sub(1, tf.sigmoid(tf.mul(rho, b))), o.desirable_weight),
            tf.mul(tf.sigmoid(tf.mul(rho, b)), o.undesirable_weight),
          );
    const loss = maskedMean(perSample, sampleMask, inputs.globalValidSamples);
    const rD = stopGradient(rho);
    const goodF = constant(
      (g, s) => tf.mul(tf.cast(g, 'float32'), s),
      good as tf.Tensor,
      sampleMask,
    );
    const badF = constant(
      (g, s) => tf.mul(tf.sub(1, tf.cast(g, 'float32')), s),
      good as tf.Tensor,
      sampleMask,
    );
    return {
      loss,
      metrics: {
        loss: metric(() => loss, loss),
        // scaled by this batch's share of the global samples, so it sums to z₀ over micro-batches
        kl: metric(
          () =>
            tf.mul(
              z0,
              tf.div(
                tf.sum(sampleMask),
                tf.add(inputs.globalValidSamples ?? tf.sum(sampleMask), NORM_EPS),
              ),
            ),
          z0,
          sampleMask,
        ),
        rewards_chosen_mean: metric(
          () => tf.mul(maskedMean(rD, goodF, inputs.globalDesirable), b),
          rD,
          goodF,
        ),
        rewards_rejected_mean: metric(
          () => tf.mul(maskedMean(rD, badF, inputs.globalUndesirable), b),
          rD,
          badF,
        ),
        num_desirable: metric(() => tf.sum(goodF), goodF),
        num_undesirable: metric(() => tf.sum(badF), badF),
      },
    };
  });
}
