import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { LossResult, Metrics } from './lossResult';
import { constant, expectShape, logSigmoid, maskedMean, metric, stopGradient } from './masked';

/** TRL `DPOConfig.loss_type` values. */
export const DPO_LOSS_TYPES = [
  'sigmoid',
  'hinge',
  'ipo',
  'exo_pair',
  'nca_pair',
  'robust',
  'bco_pair',
  'sppo_hard',
  'aot',
  'aot_unpaired',
  'apo_zero',
  'apo_down',
  'discopop',
  'sigmoid_norm',
  'sft',
] as const;
export type DpoLossType = (typeof DPO_LOSS_TYPES)[number];

/** TRL `DPOConfig.f_divergence_type` values (Wang et al. 2023, https://arxiv.org/abs/2309.16240). */
export const F_DIVERGENCE_TYPES = [
  'reverse_kl',
  'forward_kl',
  'js_divergence',
  'alpha_divergence',
] as const;

/** Options of {@link dpoLoss}: NeMo RL `dpo.*` names, TRL names where NeMo RL has none. */
export const dpoLossOptionsSchema = z
  .object({
    /** β ≥ 0: strength of the implicit KL to the reference (NeMo RL; TRL `beta`), Rafailov et al. 2023 https://arxiv.org/abs/2305.18290; 0 (as NeMo RL allows) makes the sigmoid term the constant log 2 — ipo and sppo_hard divide by β and need β > 0 */
    reference_policy_kl_penalty: z.number().min(0).default(0.05),
    /** weight of the preference term w_p (NeMo RL) */
    preference_loss_weight: z.number().min(0).default(1),
    /** weight of the auxiliary NLL on chosen responses w_s (NeMo RL; RPO's α, https://arxiv.org/abs/2404.19733) */
    sft_loss_weight: z.number().min(0).default(0),
    /** average (instead of sum) the token log-ratios of each response in the preference term (NeMo RL) */
    preference_average_log_probs: z.boolean().default(false),
    /** average (instead of sum) the chosen token log-probs in the SFT term (NeMo RL) */
    sft_average_log_probs: z.boolean().default(false),
    /** TRL loss variant, or several summed with `loss_weights` (e.g. MPO: ['sigmoid', 'bco_pair', 'sft']) */
    loss_type: z
      .union([z.enum(DPO_LOSS_TYPES), z.array(z.enum(DPO_LOSS_TYPES)).min(1)])
      .default('sigmoid'),
    /** one weight per `loss_type` entry; default all 1 (TRL) */
    loss_weights: z.array(z.number()).nullable().default(null),
    /** label smoothing ε for robust (cDPO/rDPO, https://arxiv.org/abs/2403.00409), exo_pair (https://arxiv.org/abs/2402.00856), aot and sigmoid (TRL) */
    label_smoothing: z.number().min(0).max(0.5).default(0),
    /** f-divergence whose derivative scores the log-ratios (TRL; f-DPO https://arxiv.org/abs/2309.16240) */
    f_divergence_type: z.enum(F_DIVERGENCE_TYPES).default('reverse_kl'),
    /** α of the alpha divergence; 1 is the reverse-KL limit (TRL) */
    f_alpha_divergence_coef: z.number().default(1),
    /** τ of DiscoPOP's log-ratio modulated loss (TRL; https://arxiv.org/abs/2406.08414) */
    discopop_tau: z.number().positive().default(0.05),
    /** ignore the reference model: implicit reference log-probs are 0 (TRL) */
    reference_free: z.boolean().default(false),
  })
  .strict()
  .superRefine((o, ctx) => {
    const types = Array.isArray(o.loss_type) ? o.loss_type : [o.loss_type];
    if (o.loss_weights !== null && o.loss_weights.length !== types.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['loss_weights'],
        message: `loss_weights has ${o.loss_weights.length} entries but loss_type has ${types.length}; give one weight per loss type`,
      });
    }
    for (const t of ['ipo', 'sppo_hard'] as const) {
      if (types.includes(t) && o.reference_policy_kl_penalty === 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['reference_policy_kl_penalty'],
          message: `loss_type ${t} targets a margin of 1/(2β), so β must be > 0`,
        });
      }
    }
    if (types.includes('exo_pair') && o.label_smoothing === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['label_smoothing'],
        message: 'exo_pair needs label_smoothing > 0 (it takes log ε); TRL suggests 1e-3',
      });
    }
    if (types.includes('robust') && o.label_smoothing >= 0.5) {
      ctx.addIssue({
        code: 'custom',
        path: ['label_smoothing'],
        message: 'robust divides by 1 − 2ε, so label_smoothing must be < 0.5',
      });
    }
  });
export type DpoLossOptions = z.infer<typeof dpoLossOptionsSchema>;
export type DpoLossOptionsInput = z.input<typeof dpoLossOptionsSchema>;

/** BCO's running mean of the implicit reward (TRL `RunningMoments`, mean and count only). */
export type BcoState = {
  mean: number;
  count: number;
};

/**
 * Inputs of {@link dpoLoss}. Log-probs are either per sequence, [B] (already
 * summed over the response), or per token, [B, T] with `chosenMask` /
 * `rejectedMask`. Row i of every tensor is preference pair i.
 */
export interface DpoInputs {
  policyChosenLogps: tf.Tensor;
  policyRejectedLogps: tf.Tensor;
  /** required unless `reference_free` */
  referenceChosenLogps?: tf.Tensor;
  referenceRejectedLogps?: tf.Tensor;
  /** [B, T] masks of the response tokens, required with per-token inputs */
  chosenMask?: tf.Tensor2D;
  rejectedMask?: tf.Tensor2D;
  /** response lengths [B] for per-sequence inputs; needed by ipo, sigmoid_norm and the *_average_log_probs options */
  chosenLengths?: tf.Tensor1D;
  rejectedLengths?: tf.Tensor1D;
  /** 0 drops a pair, [B]; default all ones */
  sampleMask?: tf.Tensor1D;
  /** valid pairs over the whole global batch (NeMo RL's global_valid_seqs / 2); default this batch's count */
  globalValidPairs?: number;
  /** valid chosen tokens over the global batch, for loss_type 'sft'; default this batch's count */
  globalChosenToks?: number;
  /** bco_pair: running reward mean carried from the previous step; default a fresh one */
  bcoState?: BcoState;
  /** also return {@link DpoPerPair}: each pair's loss, rewards and log-probs (detached, [B]) */
  returnPerPair?: boolean;
  /**
   * Per-pair bonuses on the implicit rewards, by name, [B] each (the columns
   * `bonus/<name>/chosen|rejected` a `reward.pair` node of the DPO graph writes into the
   * step's batch, which `loss.dpo` reads): the chosen side's is added to
   * β·(log π − log π_ref)(chosen), the rejected side's to the rejected one, so the pair's
   * logit is h = β·Δ + Σ_k (bonus_k(chosen) − bonus_k(rejected)) − Σ_j margin_j.
   * Constants: no gradient flows into them.
   */
  bonuses?: Readonly<Record<string, { chosen: tf.Tensor1D; rejected: tf.Tensor1D }>>;
  /** Per-pair margins by name, [B] each (`margin/<name>` columns), subtracted from the logit h. */
  margins?: Readonly<Record<string, tf.Tensor1D>>;
}

/** Loss types whose loss is a function of the pair's logit β·Δ, which bonuses and margins shift (`sft` has no pair logit and is left alone). */
export const DPO_SHIFTABLE_LOSS_TYPES: readonly DpoLossType[] = [
  'sigmoid',
  'hinge',
  'robust',
  'exo_pair',
  'apo_down',
  'discopop',
];

/**
 * Per-pair outputs (TRL's unreduced `losses`, `chosen_rewards`, `rejected_rewards` and
 * the policy log-probs it logs as `logps/chosen`, `logps/rejected`), detached [B] tensors
 * the caller disposes. `loss` is this pair's term: preference_loss_weight·Σ_k w_k·L_k +
 * sft_loss_weight·L_sft, so its mean over valid pairs (global count) is the loss; for
 * loss_type 'sft' (a token mean over the batch) the pair's own token-mean NLL stands in.
 */
export type DpoPerPair = {
  loss: tf.Tensor1D;
  /** β·(log-ratio of the chosen response), TRL's chosen_rewards */
  chosen_rewards: tf.Tensor1D;
  rejected_rewards: tf.Tensor1D;
  /** Σ log π over the response (token mean with preference_average_log_probs) */
  chosen_logps: tf.Tensor1D;
  rejected_logps: tf.Tensor1D;
};

/** {@link dpoLoss}'s result; `bcoState` is set when `bco_pair` is among the loss types. */
export type DpoResult = LossResult & {
  bcoState?: BcoState;
  /** set when `inputs.returnPerPair` */
  perPair?: DpoPerPair;
};

interface Seq {
  /** Σ or mean of log π over the response, [B] */
  logps: tf.Tensor1D;
  /** response length [B] (≥ 1) or null when unknown */
  len: tf.Tensor1D | null;
}

function reduce(
  name: string,
  lp: tf.Tensor,
  mask: tf.Tensor2D | undefined,
  lengths: tf.Tensor1D | undefined,
  B: number,
): Seq {
  if (lp.rank === 1) {
    expectShape(name, lp, [B]);
    return {
      logps: lp as tf.Tensor1D,
      len: lengths ? (tf.maximum(lengths, 1) as tf.Tensor1D) : null,
    };
  }
  if (!mask)
    throw new Error(
      `dpoLoss: ${name} is per-token [B, T], so its mask (chosenMask / rejectedMask) is required`,
    );
  expectShape(name, lp, mask.shape);
  return {
    logps: tf.sum(tf.mul(lp, mask), -1) as tf.Tensor1D,
    len: tf.maximum(tf.sum(mask, -1), 1) as tf.Tensor1D,
  };
}

function needLen(s: Seq, why: string): tf.Tensor1D {
  if (!s.len)
    throw new Error(
      `dpoLoss: ${why} needs response lengths; pass per-token inputs with masks or chosenLengths / rejectedLengths`,
    );
  return s.len;
}

/** Ascending sort of x [B] along the batch as a differentiable permutation (x's order is a constant). */
function sortAscending(x: tf.Tensor1D): tf.Tensor1D {
  const B = x.shape[0];
  // oneHot's float32 dtype argument returns int bit patterns on wasm 4.22: cast instead
  const P = constant((v) => tf.cast(tf.oneHot(tf.topk(tf.neg(v), B).indices, B), 'float32'), x);
  return tf.reshape(tf.matMul(P, tf.reshape(x, [B, 1])), [B]) as tf.Tensor1D;
}

/**
 * DPO and its TRL variants, with NeMo RL's reductions:
 * loss = preference_loss_weight · Σ_k w_k · L_k + sft_loss_weight · L_sft, each
 * term averaged over valid pairs with the global pair count (so micro-batches
 * add up). r_c, r_r are the summed (or averaged) policy − reference log-ratios.
 * Metrics (NeMo RL): `loss`, `sft_loss`, `preference_loss`, `accuracy`
 * (r_c > r_r), `rewards_chosen_mean`, `rewards_rejected_mean` (un-scaled
 * log-ratios, as NeMo RL logs them), `reward_gap` (their difference, the
 * signal for an adaptive-β controller), `num_valid_samples`; with several loss
 * types also `preference_loss/<type>`. `aot`, `aot_unpaired` (batch sort) and
 * `bco_pair` (running mean) depend on the whole batch, so they are not additive
 * over micro-batches.
 */
export function dpoLoss(
  options: DpoLossOptionsInput | DpoLossOptions,
  inputs: DpoInputs,
): DpoResult {
  const o = dpoLossOptionsSchema.parse(options);
  const B = inputs.policyChosenLogps.shape[0]!;
  const beta = o.reference_policy_kl_penalty;
  const types = Array.isArray(o.loss_type) ? o.loss_type : [o.loss_type];
  const weights = o.loss_weights ?? types.map(() => 1);
  if (!o.reference_free && (!inputs.referenceChosenLogps || !inputs.referenceRejectedLogps)) {
    throw new Error(
      'dpoLoss: referenceChosenLogps and referenceRejectedLogps are required unless reference_free is true',
    );
  }
  expectShape('dpoLoss sampleMask', inputs.sampleMask, [B]);
  const bonusNames = Object.keys(inputs.bonuses ?? {});
  const marginNames = Object.keys(inputs.margins ?? {});
  const shifted = bonusNames.length + marginNames.length > 0;
  if (shifted) {
    const other = types.filter((t) => t !== 'sft' && !DPO_SHIFTABLE_LOSS_TYPES.includes(t));
    if (other.length > 0 || types.every((t) => t === 'sft'))
      throw new Error(
        `dpoLoss: bonuses and margins shift the pair logit β·Δ, which loss_type ${(other.length > 0 ? other : types).join(', ')} does not use; use ${DPO_SHIFTABLE_LOSS_TYPES.join(', ')} (with sft beside them if you like)`,
      );
    for (const [name, b] of Object.entries(inputs.bonuses ?? {})) {
      expectShape(`dpoLoss bonuses.${name}.chosen`, b.chosen, [B]);
      expectShape(`dpoLoss bonuses.${name}.rejected`, b.rejected, [B]);
    }
    for (const [name, m] of Object.entries(inputs.margins ?? {}))
      expectShape(`dpoLoss margins.${name}`, m, [B]);
  }
  let bcoState: BcoState | undefined;

  const result = tf.tidy(() => {
    const sampleMask = inputs.sampleMask ?? tf.ones([B]);
    const nPairs = inputs.globalValidPairs;
    const meanPairs = (v: tf.Tensor) => maskedMean(v, sampleMask, nPairs);

    const pc = reduce(
      'policyChosenLogps',
      inputs.policyChosenLogps,
      inputs.chosenMask,
      inputs.chosenLengths,
      B,
    );
    const pr = reduce(
      'policyRejectedLogps',
      inputs.policyRejectedLogps,
      inputs.rejectedMask,
      inputs.rejectedLengths,
      B,
    );
    const zero = tf.zeros([B]) as tf.Tensor1D;
    const rc = o.reference_free
      ? { logps: zero, len: pc.len }
      : reduce(
          'referenceChosenLogps',
          inputs.referenceChosenLogps!,
          inputs.chosenMask,
          inputs.chosenLengths,
          B,
        );
    const rr = o.reference_free
      ? { logps: zero, len: pr.len }
      : reduce(
          'referenceRejectedLogps',
          inputs.referenceRejectedLogps!,
          inputs.rejectedMask,
          inputs.rejectedLengths,
          B,
        );

    // NeMo RL: rewards are the (optionally token-averaged) log-ratios
    const avg = (s: Seq, x: tf.Tensor1D) =>
      o.preference_average_log_probs
        ? (tf.div(x, needLen(s, 'preference_average_log_probs')) as tf.Tensor1D)
        : x;
    const chosenLr = avg(pc, tf.sub(pc.logps, rc.logps) as tf.Tensor1D);
    const rejectedLr = avg(pr, tf.sub(pr.logps, rr.logps) as tf.Tensor1D);

    const score = (lr: tf.Tensor1D): tf.Tensor1D => {
      switch (o.f_divergence_type) {
        case 'reverse_kl':
          return lr;
        case 'forward_kl': // f'(t) = 1 − 1/t, constant dropped
          return tf.neg(tf.exp(tf.neg(lr)));
        case 'js_divergence': // f'(t) = log(2t / (t + 1)), log 2 dropped
          return logSigmoid(lr) as tf.Tensor1D;
        case 'alpha_divergence': {
          const a = o.f_alpha_divergence_coef;
          if (Math.abs(a - 1) < 1e-6) return lr;
          return tf.mul(tf.exp(tf.minimum(tf.mul(lr, a - 1), 80)), 1 / (a - 1));
        }
      }
    };
    const cs = score(chosenLr);
    const rs = score(rejectedLr);
    const delta = tf.sub(cs, rs);
    // the pair logit: β·Δ, shifted by the bonuses (chosen − rejected) and the margins
    let shift: tf.Tensor = tf.zeros([B]);
    for (const b of Object.values(inputs.bonuses ?? {}))
      shift = tf.add(shift, tf.sub(b.chosen, b.rejected));
    for (const m of Object.values(inputs.margins ?? {})) shift = tf.sub(shift, m);
    shift = stopGradient(shift);
    const bd = shifted ? tf.add(tf.mul(delta, beta), shift) : tf.mul(delta, beta);
    const eps = o.label_smoothing;
    const smoothedSigmoid = (d: tf.Tensor) =>
      tf.sub(tf.mul(tf.neg(logSigmoid(d)), 1 - eps), tf.mul(logSigmoid(tf.neg(d)), eps));

    // each loss type's per-pair vector, for the per-pair outputs
    let lastVec: tf.Tensor = tf.zeros([B]);
    const meanPairsV = (v: tf.Tensor) => {
      lastVec = v;
      return meanPairs(v);
    };
    const perType = (t: DpoLossType): tf.Scalar => {
      switch (t) {
        case 'sigmoid':
          return meanPairsV(smoothedSigmoid(bd));
        case 'hinge':
          return meanPairsV(tf.relu(tf.sub(1, bd)));
        case 'ipo': {
          const d = tf.sub(tf.div(cs, needLen(pc, 'ipo')), tf.div(rs, needLen(pr, 'ipo')));
          return meanPairsV(tf.square(tf.sub(d, 1 / (2 * beta))));
        }
        case 'exo_pair': {
          const l = tf.add(
            tf.mul(tf.sigmoid(bd), tf.sub(logSigmoid(bd), Math.log1p(-eps))),
            tf.mul(tf.sigmoid(tf.neg(bd)), tf.sub(logSigmoid(tf.neg(bd)), Math.log(eps))),
          );
          return meanPairsV(l);
        }
        case 'nca_pair': {
          const c = tf.mul(cs, beta);
          const r = tf.mul(rs, beta);
          const l = tf.sub(
            tf.sub(tf.neg(logSigmoid(c)), tf.mul(logSigmoid(tf.neg(c)), 0.5)),
            tf.mul(logSigmoid(tf.neg(r)), 0.5),
          );
          return meanPairsV(l);
        }
        case 'robust': {
          const l = tf.div(
            tf.add(tf.mul(tf.neg(logSigmoid(bd)), 1 - eps), tf.mul(logSigmoid(tf.neg(bd)), eps)),
            1 - 2 * eps,
          );
          return meanPairsV(l);
        }
        case 'bco_pair': {
          const c = tf.mul(cs, beta);
          const r = tf.mul(rs, beta);
          // TRL: the running mean is updated with this batch's mean reward before it is used
          const batchMean = metric(
            () => tf.div(tf.add(maskedMean(c, sampleMask), maskedMean(r, sampleMask)), 2),
            c,
            r,
          );
          const prev = inputs.bcoState ?? { mean: 0, count: 1e-24 };
          const m = batchMean.dataSync()[0]!;
          const count = prev.count + 1;
          const mean = prev.mean + (m - prev.mean) / count;
          bcoState = { mean, count };
          const l = tf.sub(
            tf.neg(logSigmoid(tf.sub(c, mean))),
            logSigmoid(tf.neg(tf.sub(r, mean))),
          );
          return meanPairsV(l);
        }
        case 'sppo_hard': {
          const l = tf.add(tf.square(tf.sub(cs, 0.5 / beta)), tf.square(tf.add(rs, 0.5 / beta)));
          return meanPairsV(l);
        }
        case 'aot': {
          const policyLr = sortAscending(avg(pc, tf.sub(pc.logps, pr.logps) as tf.Tensor1D));
          const refLr = sortAscending(avg(rc, tf.sub(rc.logps, rr.logps) as tf.Tensor1D));
          return meanPairsV(smoothedSigmoid(tf.mul(tf.sub(policyLr, refLr), beta)));
        }
        case 'aot_unpaired': {
          const d = tf.sub(sortAscending(chosenLr), sortAscending(rejectedLr));
          return meanPairsV(smoothedSigmoid(tf.mul(d, beta)));
        }
        case 'apo_zero': {
          const l = tf.add(
            tf.sub(1, tf.sigmoid(tf.mul(chosenLr, beta))),
            tf.sigmoid(tf.mul(rejectedLr, beta)),
          );
          return meanPairsV(l);
        }
        case 'apo_down': {
          const l = tf.add(tf.sigmoid(tf.mul(chosenLr, beta)), tf.sub(1, tf.sigmoid(bd)));
          return meanPairsV(l);
        }
        case 'discopop': {
          const mod = tf.sigmoid(tf.div(bd, o.discopop_tau));
          const l = tf.add(
            tf.mul(tf.neg(logSigmoid(bd)), tf.sub(1, mod)),
            tf.mul(tf.exp(tf.neg(bd)), mod),
          );
          return meanPairsV(l);
        }
        case 'sigmoid_norm': {
          const d = tf.sub(
            tf.div(cs, needLen(pc, 'sigmoid_norm')),
            tf.div(rs, needLen(pr, 'sigmoid_norm')),
          );
          return meanPairsV(tf.neg(logSigmoid(tf.mul(d, beta))));
        }
        case 'sft': {
          if (inputs.policyChosenLogps.rank !== 2 || !inputs.chosenMask) {
            throw new Error(
              "dpoLoss: loss_type 'sft' is a token mean, so it needs per-token policyChosenLogps [B, T] and chosenMask",
            );
          }
          const m = tf.mul(inputs.chosenMask, tf.expandDims(sampleMask, 1));
          lastVec = tf.div(
            tf.neg(tf.sum(tf.mul(inputs.policyChosenLogps, inputs.chosenMask), -1)),
            tf.maximum(tf.sum(inputs.chosenMask, -1), 1),
          );
          return tf.neg(
            maskedMean(inputs.policyChosenLogps, m, inputs.globalChosenToks),
          ) as tf.Scalar;
        }
      }
    };

    const metrics: Metrics = {};
    let preference = tf.scalar(0) as tf.Scalar;
    let preferenceVec: tf.Tensor = tf.zeros([B]);
    types.forEach((t, i) => {
      const l = perType(t);
      if (types.length > 1) metrics[`preference_loss/${t}`] = metric(() => l, l);
      preference = tf.add(preference, tf.mul(l, weights[i]!)) as tf.Scalar;
      preferenceVec = tf.add(preferenceVec, tf.mul(lastVec, weights[i]!));
    });

    let sft = tf.scalar(0) as tf.Scalar;
    let sftVec: tf.Tensor = tf.zeros([B]);
    if (o.sft_loss_weight > 0) {
      const nll = tf.neg(pc.logps) as tf.Tensor1D;
      sftVec = o.sft_average_log_probs ? tf.div(nll, needLen(pc, 'sft_average_log_probs')) : nll;
      sft = meanPairs(sftVec);
    }
    const loss = tf.add(
      tf.mul(preference, o.preference_loss_weight),
      tf.mul(sft, o.sft_loss_weight),
    ) as tf.Scalar;

    const cD = stopGradient(chosenLr);
    const rD = stopGradient(rejectedLr);
    const pcD = stopGradient(avg(pc, pc.logps));
    const prD = stopGradient(avg(pr, pr.logps));
    Object.assign(metrics, {
      loss: metric(() => loss, loss),
      sft_loss: metric(() => sft, sft),
      preference_loss: metric(() => preference, preference),
      accuracy: metric(() => meanPairs(tf.cast(tf.greater(cD, rD), 'float32')), cD, rD),
      rewards_chosen_mean: metric(() => meanPairs(cD), cD),
      rewards_rejected_mean: metric(() => meanPairs(rD), rD),
      reward_gap: metric(() => meanPairs(tf.sub(cD, rD)), cD, rD),
      logps_chosen_mean: metric(() => meanPairs(pcD), pcD),
      logps_rejected_mean: metric(() => meanPairs(prD), prD),
      num_valid_samples: metric(() => tf.sum(sampleMask), sampleMask),
    });
    if (shifted) {
      // each term of the pair logit, averaged over valid pairs
      for (const [name, b] of Object.entries(inputs.bonuses ?? {})) {
        const c = stopGradient(b.chosen);
        const r = stopGradient(b.rejected);
        metrics[`bonus/${name}`] = metric(() => meanPairs(tf.sub(c, r)), c, r);
        metrics[`bonus/${name}/chosen`] = metric(() => meanPairs(c), c);
        metrics[`bonus/${name}/rejected`] = metric(() => meanPairs(r), r);
      }
      for (const [name, m] of Object.entries(inputs.margins ?? {})) {
        const v = stopGradient(m);
        metrics[`margin/${name}`] = metric(() => meanPairs(v), v);
      }
      const h = stopGradient(bd);
      metrics['implicit_reward_gap'] = metric(() => meanPairs(tf.mul(delta, beta)), delta);
      metrics['total_reward_gap'] = metric(() => meanPairs(h), h);
      metrics['total_accuracy'] = metric(() => meanPairs(tf.cast(tf.greater(h, 0), 'float32')), h);
    }
    if (!inputs.returnPerPair) return { loss, metrics };
    const perPairLoss = tf.add(
      tf.mul(preferenceVec, o.preference_loss_weight),
      tf.mul(sftVec, o.sft_loss_weight),
    );
    const perPair: DpoPerPair = {
      loss: stopGradient(perPairLoss) as tf.Tensor1D,
      chosen_rewards: tf.mul(cD, beta) as tf.Tensor1D,
      rejected_rewards: tf.mul(rD, beta) as tf.Tensor1D,
      chosen_logps: pcD,
      rejected_logps: prD,
    };
    return { loss, metrics, perPair };
  });
  return bcoState ? { ...result, bcoState } : result;
}
