import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { calculateKl, KL_TYPES } from './klEstimators';
import type { LossResult, Metrics } from './lossResult';
import {
  constant,
  expectShape,
  finiteOrZero,
  maskedMean,
  metric,
  nanToZero,
  NORM_EPS,
  perRow,
  rowMaskedMean,
  stopGradient,
} from './masked';

/**
 * 1 where a valid token's entropy is at or above the q-quantile of the valid tokens'
 * entropies (linear interpolation, torch.quantile's default), else 0. On-device: the
 * valid entropies are sorted by top-k and the two neighbours of the quantile gathered.
 */
function highEntropyMask(entropies: tf.Tensor, mask: tf.Tensor, q: number): tf.Tensor {
  const n = entropies.size;
  const valid = tf.greater(mask, 0);
  const flat = tf.reshape(tf.where(valid, entropies, tf.fill(entropies.shape, -Infinity)), [n]);
  const desc = tf.topk(flat, n).values; // valid values first, descending
  const count = tf.sum(tf.cast(valid, 'float32'));
  // ascending position p = q·(N − 1) is descending index N − 1 − p
  const pos = tf.mul(tf.sub(count, 1), q);
  const lo = tf.floor(pos);
  const frac = tf.sub(pos, lo);
  const idx = (p: tf.Tensor) =>
    tf.cast(tf.clipByValue(tf.sub(tf.sub(count, 1), p), 0, n - 1), 'int32');
  const vLo = tf.gather(desc, idx(lo));
  const vHi = tf.gather(desc, idx(tf.minimum(tf.add(lo, 1), tf.maximum(tf.sub(count, 1), 0))));
  const threshold = tf.add(vLo, tf.mul(tf.sub(vHi, vLo), frac));
  return tf.cast(tf.logicalAnd(valid, tf.greaterEqual(entropies, threshold)), 'float32');
}

/** TRL `GRPOConfig.loss_type` reductions, offered as `loss_aggregation`. */
export const LOSS_AGGREGATIONS = ['grpo', 'bnpo', 'dr_grpo', 'dapo'] as const;

/** Options of {@link clippedPgLoss}: NeMo RL `loss_fn.*` names (ClippedPGLossConfig), TRL's where NeMo RL has none. */
export const clippedPgLossOptionsSchema = z
  .object({
    /** ε_low in [0, 1): ratios below 1 − ε_low are clipped (PPO https://arxiv.org/abs/1707.06347) */
    ratio_clip_min: z.number().min(0).lt(1).default(0.2),
    /** ε_high: ratios above 1 + ε_high are clipped; larger than ε_low is DAPO's clip-higher (https://arxiv.org/abs/2503.14476) */
    ratio_clip_max: z.number().min(0).default(0.2),
    /** dual-clip c > 1: for A < 0 the loss is capped at −c·A (Ye et al. 2019, https://arxiv.org/abs/1912.09729); null disables */
    ratio_clip_c: z.number().gt(1).nullable().default(null),
    /** β of the KL(π ‖ π_ref) penalty added to the loss; 0 disables it and makes refLogprobs optional */
    reference_policy_kl_penalty: z.number().min(0).default(0.01),
    /** per-token KL estimator (Schulman 2020, http://joschu.net/blog/kl-approx.html) */
    reference_policy_kl_type: z.enum(KL_TYPES).default('k3'),
    /** clamp log(π_ref/π) to ±this before the estimator; null disables */
    kl_input_clamp_value: z.number().positive().nullable().default(20),
    /** clamp the per-token KL to ±this; null disables */
    kl_output_clamp_value: z.number().positive().nullable().default(10),
    /** REINFORCE / RLOO: use log π·A instead of the ratio (https://arxiv.org/abs/2402.14740) */
    disable_ppo_ratio: z.boolean().default(false),
    /** force the ratio to exactly 1 with gradient of π (truly on-policy; one update per rollout) */
    force_on_policy_ratio: z.boolean().default(false),
    /** true: mean over all valid tokens of the global batch; false: mean over tokens per sequence, then over sequences */
    token_level_loss: z.boolean().default(true),
    /** GSPO: one ratio per sequence, exp(mean_t log r_t) (https://arxiv.org/abs/2507.18071); needs token_level_loss false */
    sequence_level_importance_ratios: z.boolean().default(false),
    /** weight the loss by π_prev/π_gen to correct for a generation engine that differs from the trained policy */
    use_importance_sampling_correction: z.boolean().default(false),
    /** upper bound of the truncated importance weights (TIS); null disables truncation */
    truncated_importance_sampling_ratio: z.number().positive().nullable().default(null),
    /** tis: clamp weights to the bound; icepop: zero tokens outside [min, max]; seq-mask-tis: zero sequences whose geometric-mean weight is outside [min, max] */
    truncated_importance_sampling_type: z
      .enum(['tis', 'icepop', 'seq-mask-tis'])
      .nullable()
      .default(null),
    /** lower bound: tis clamps the weights to [min, max] (NeMo RL; null = 0), icepop / seq-mask-tis filter outside it */
    truncated_importance_sampling_ratio_min: z.number().min(0).nullable().default(null),
    /** CISPO: −sg(clip(r))·A·log π, clipping the weight and never the gradient (MiniMax-M1, https://arxiv.org/abs/2506.13585) */
    use_cispo: z.boolean().default(false),
    /** SAPO: replace the clip by the soft gate −σ(τ(r − 1))·(4/τ)·A, τ = sapo_temperature_pos for A > 0 else sapo_temperature_neg (Gao et al. 2025, https://arxiv.org/abs/2511.20347; TRL loss_type sapo = use_sapo with loss_aggregation grpo) */
    use_sapo: z.boolean().default(false),
    /** SAPO gate temperature τ for tokens with positive advantage (TRL) */
    sapo_temperature_pos: z.number().positive().default(1),
    /** SAPO gate temperature τ for tokens with non-positive advantage (TRL) */
    sapo_temperature_neg: z.number().positive().default(1.05),
    /** two-sided clipping: cap the unclipped ratio at δ as well (TRL `delta`, INTELLECT-2 https://arxiv.org/abs/2505.07291; recommended > 1 + ε_high); null disables */
    delta: z.number().gt(1).nullable().default(null),
    /** off-policy sequence masking: drop from the policy term a sample with A < 0 whose mean log(π_gen/π) over its tokens exceeds this δ (TRL `off_policy_mask_threshold`, DeepSeek-V3.2 https://arxiv.org/abs/2512.02556 Eq. 9); null disables */
    off_policy_mask_threshold: z.number().positive().nullable().default(null),
    /** keep in the policy term only the tokens whose entropy is at or above the (1 − ρ) quantile of this batch's valid tokens (TRL `top_entropy_quantile` ρ, "Beyond the 80/20 rule" https://arxiv.org/abs/2506.01939; the paper uses 0.2); 1 keeps every token, 0 only the highest; needs `entropies` */
    top_entropy_quantile: z.number().min(0).max(1).default(1),
    /** weight the KL penalty by π/π_gen (differentiated) so it estimates KL under the current policy */
    use_on_policy_kl_approximation: z.boolean().default(false),
    /** entropy bonus c: subtract c·(the policy's token entropy, aggregated like the policy term — the mean over valid tokens by default) from the loss, so c > 0 keeps the policy exploring (the guides' and verl's `entropy_coef(f)`; PPO https://arxiv.org/abs/1707.06347 Eq. 9); needs `policyEntropies` with gradient; 0 disables */
    entropy_coef: z.number().finite().default(0),
    /** VAPO μ: add μ·NLL on tokens of samples with reward > 0 (https://arxiv.org/abs/2504.05118, Eq. 10); 0 disables */
    positive_example_nll_weight: z.number().min(0).default(0),
    /** TRL reduction: grpo (per-sequence mean), bnpo (micro-batch token mean), dr_grpo (sum / (B·max_completion_length)), dapo (global token mean); null follows token_level_loss */
    loss_aggregation: z.enum(LOSS_AGGREGATIONS).nullable().default(null),
    /** constant denominator of dr_grpo (TRL `max_completion_length`, Dr. GRPO https://arxiv.org/abs/2503.20783) */
    max_completion_length: z.number().int().positive().nullable().default(null),
  })
  .strict()
  .superRefine((o, ctx) => {
    const bad = (path: string, message: string) =>
      ctx.addIssue({ code: 'custom', path: [path], message });
    const seqLevel = o.loss_aggregation ? o.loss_aggregation === 'grpo' : !o.token_level_loss;
    if (o.sequence_level_importance_ratios && !seqLevel) {
      bad(
        'sequence_level_importance_ratios',
        'sequence-level importance ratios (GSPO) need a sequence-level loss: token_level_loss false (or loss_aggregation grpo)',
      );
    }
    if (o.disable_ppo_ratio && o.force_on_policy_ratio) {
      bad(
        'force_on_policy_ratio',
        'force_on_policy_ratio and disable_ppo_ratio contradict each other; set one',
      );
    }
    if (o.use_cispo) {
      if (o.disable_ppo_ratio)
        bad('use_cispo', 'use_cispo needs the π/π_old ratio, which disable_ppo_ratio removes');
      if (o.force_on_policy_ratio)
        bad(
          'use_cispo',
          'use_cispo is incompatible with force_on_policy_ratio (ratio 1 removes the clipped weight CISPO optimises)',
        );
      if (o.sequence_level_importance_ratios)
        bad(
          'use_cispo',
          'use_cispo uses token-level weights, incompatible with sequence_level_importance_ratios',
        );
      if (o.ratio_clip_c !== null)
        bad(
          'ratio_clip_c',
          'use_cispo is incompatible with dual clipping; set ratio_clip_c to null',
        );
      if (seqLevel)
        bad(
          'use_cispo',
          'use_cispo needs a token-level loss (token_level_loss true, loss_aggregation not grpo)',
        );
    }
    if (o.use_sapo) {
      if (o.disable_ppo_ratio)
        bad('use_sapo', 'use_sapo gates the π/π_old ratio, which disable_ppo_ratio removes');
      if (o.use_cispo) bad('use_sapo', 'use_sapo and use_cispo are alternative losses; set one');
      if (o.ratio_clip_c !== null)
        bad('ratio_clip_c', 'use_sapo has no clip to dual-clip; set ratio_clip_c to null');
    }
    if (o.delta !== null && (o.use_sapo || o.use_cispo || o.disable_ppo_ratio)) {
      bad(
        'delta',
        'delta caps the clipped PPO ratio; it does not apply with use_sapo, use_cispo or disable_ppo_ratio',
      );
    }
    const tisType = o.truncated_importance_sampling_type;
    if ((tisType === null) !== (o.truncated_importance_sampling_ratio === null)) {
      bad(
        tisType === null
          ? 'truncated_importance_sampling_type'
          : 'truncated_importance_sampling_ratio',
        'truncated_importance_sampling_ratio and truncated_importance_sampling_type are set together (tis | icepop | seq-mask-tis)',
      );
    }
    if (tisType !== null && !o.use_importance_sampling_correction) {
      bad(
        'truncated_importance_sampling_type',
        'truncated importance sampling needs use_importance_sampling_correction true',
      );
    }
    if (
      (tisType === 'icepop' || tisType === 'seq-mask-tis') &&
      o.truncated_importance_sampling_ratio_min === null
    ) {
      bad(
        'truncated_importance_sampling_ratio_min',
        `${tisType} needs truncated_importance_sampling_ratio_min`,
      );
    }
    if (tisType === 'seq-mask-tis' && o.sequence_level_importance_ratios) {
      bad(
        'truncated_importance_sampling_type',
        'seq-mask-tis uses token-level weights with sequence masking, incompatible with sequence_level_importance_ratios',
      );
    }
    if (o.loss_aggregation === 'dr_grpo' && o.max_completion_length === null) {
      bad(
        'max_completion_length',
        'loss_aggregation dr_grpo divides by max_completion_length; set it',
      );
    }
  });
export type ClippedPgLossOptions = z.infer<typeof clippedPgLossOptionsSchema>;
export type ClippedPgLossOptionsInput = z.input<typeof clippedPgLossOptionsSchema>;

/** Inputs of {@link clippedPgLoss}; per-token tensors are [B, T] aligned to the completion tokens. */
export interface ClippedPgInputs {
  /** log π_θ of the sampled tokens (the differentiated input) */
  currLogprobs: tf.Tensor2D;
  /** log π_old from before this update; optional only with force_on_policy_ratio */
  prevLogprobs?: tf.Tensor2D;
  /** log π under the generation engine; default prevLogprobs */
  generationLogprobs?: tf.Tensor2D;
  /** log π_ref; required when reference_policy_kl_penalty ≠ 0 */
  refLogprobs?: tf.Tensor2D;
  /** per-sample [B] or per-token [B, T] advantages */
  advantages: tf.Tensor;
  tokenMask: tf.Tensor2D;
  /** 0 drops a sample; default all ones */
  sampleMask?: tf.Tensor1D;
  /** sample rewards [B], for positive_example_nll_weight */
  rewards?: tf.Tensor1D;
  /** valid tokens over the global batch (token_mask · sample_mask); default this batch's */
  globalValidToks?: number;
  /** valid samples over the global batch; default this batch's */
  globalValidSeqs?: number;
  /** valid tokens of positive-reward samples over the global batch; default this batch's (NeMo RL) */
  globalPositiveToks?: number;
  /** entropy of the next-token distribution at each completion token [B, T] (constant), for top_entropy_quantile */
  entropies?: tf.Tensor2D;
  /**
   * the current policy's entropy at each completion token [B, T], differentiated
   * (`CausalLM.tokenLogProbsAndEntropies`), for entropy_coef; when given it is also
   * reported as the `entropy` metric
   */
  policyEntropies?: tf.Tensor2D;
}

/**
 * NeMo RL's ClippedPGLossFn: PPO / GRPO clipped surrogate with asymmetric
 * and dual clipping, REINFORCE, GSPO, CISPO, truncated importance sampling,
 * a k1/k2/k3 KL penalty and VAPO's positive-example NLL, plus TRL's
 * `loss_aggregation`. Metrics use NeMo RL's names and, like NeMo RL, are
 * normalised with the global counts (sum them over micro-batches):
 * `loss`, `actor_loss`, `probs_ratio`, `probs_ratio_clamped`, `probs_ratio_min/max`,
 * `probs_ratio_clamped_min/max`, `kl_penalty`, `token_mult_prob_error`,
 * `gen_kl_error`, `policy_kl_error`, `js_divergence_error`,
 * `sampling_importance_ratio`, `approx_entropy`, `num_valid_samples`,
 * `positive_nll_loss`, the components `kl_loss`, `nll_loss`, `entropy_loss`
 * (loss = actor_loss + kl_loss + nll_loss + entropy_loss), `entropy` with
 * `policyEntropies`, for icepop / seq-mask-tis `is_oob_ratio` and, with
 * off_policy_mask_threshold, `off_policy_mask_ratio`. SAPO, two-sided `delta`
 * clipping and off-policy sequence masking are TRL's options.
 */
export function clippedPgLoss(
  options: ClippedPgLossOptionsInput | ClippedPgLossOptions,
  inputs: ClippedPgInputs,
): LossResult {
  const o = clippedPgLossOptionsSchema.parse(options);
  const { currLogprobs, tokenMask } = inputs;
  const [B, T] = currLogprobs.shape;
  for (const [k, t] of [
    ['prevLogprobs', inputs.prevLogprobs],
    ['generationLogprobs', inputs.generationLogprobs],
    ['refLogprobs', inputs.refLogprobs],
    ['tokenMask', tokenMask],
  ] as const)
    expectShape(`clippedPgLoss ${k}`, t, [B, T]);
  expectShape('clippedPgLoss sampleMask', inputs.sampleMask, [B]);
  expectShape('clippedPgLoss rewards', inputs.rewards, [B]);
  if (inputs.advantages.rank === 1) expectShape('clippedPgLoss advantages', inputs.advantages, [B]);
  else expectShape('clippedPgLoss advantages', inputs.advantages, [B, T]);
  if (!inputs.prevLogprobs && !o.force_on_policy_ratio) {
    throw new Error('clippedPgLoss: prevLogprobs is required unless force_on_policy_ratio is true');
  }
  const beta = o.reference_policy_kl_penalty;
  if (beta !== 0 && !inputs.refLogprobs) {
    throw new Error(
      'clippedPgLoss: refLogprobs is required when reference_policy_kl_penalty is not 0',
    );
  }
  expectShape('clippedPgLoss entropies', inputs.entropies, [B, T]);
  expectShape('clippedPgLoss policyEntropies', inputs.policyEntropies, [B, T]);
  if (o.entropy_coef !== 0 && !inputs.policyEntropies) {
    throw new Error(
      'clippedPgLoss: policyEntropies [B, T] (with gradient) are required when entropy_coef is not 0',
    );
  }
  if (o.top_entropy_quantile < 1 && !inputs.entropies) {
    throw new Error('clippedPgLoss: entropies [B, T] are required when top_entropy_quantile < 1');
  }
  if (o.positive_example_nll_weight > 0 && !inputs.rewards) {
    throw new Error('clippedPgLoss: rewards [B] are required when positive_example_nll_weight > 0');
  }

  return tf.tidy(() => {
    const sampleMask = inputs.sampleMask ?? tf.ones([B]);
    const mask = tf.mul(tokenMask, tf.expandDims(sampleMask, 1));
    const adv = tf.mul(perRow(inputs.advantages), tf.onesLike(currLogprobs));
    const prev = o.force_on_policy_ratio ? stopGradient(currLogprobs) : inputs.prevLogprobs!;
    const gen = inputs.generationLogprobs ?? prev;
    const nToks = inputs.globalValidToks;
    const nSeqs = inputs.globalValidSeqs;

    // the reduction every per-token quantity of the objective goes through
    const aggregation = o.loss_aggregation ?? (o.token_level_loss ? 'dapo' : 'grpo');
    const reduce = (perToken: tf.Tensor): tf.Scalar => {
      switch (aggregation) {
        case 'dapo':
          return maskedMean(perToken, mask, nToks);
        case 'bnpo':
          return maskedMean(perToken, mask);
        case 'grpo':
          return maskedMean(rowMaskedMean(perToken, tokenMask), sampleMask, nSeqs);
        case 'dr_grpo':
          return tf.div(
            tf.sum(tf.mul(perToken, mask)),
            (nSeqs ?? B) * o.max_completion_length! + NORM_EPS,
          ) as tf.Scalar;
      }
    };
    const tokMean = (v: tf.Tensor) => maskedMean(v, mask, nToks);

    // KL(π ‖ π_ref). The estimator is an expectation under the sampling policy,
    // so its gradient carries the score-function term KL·∇log π (NeMo RL,
    // https://arxiv.org/abs/2506.09477): the per-token weight is
    // exp(log π − sg(log π)), 1 in value, or the on-policy importance weight
    // π/π_gen, both differentiated.
    let kl = tf.scalar(0) as tf.Scalar;
    if (beta !== 0) {
      const logW = o.use_on_policy_kl_approximation
        ? tf.sub(currLogprobs, gen)
        : tf.sub(currLogprobs, stopGradient(currLogprobs));
      const perTok = calculateKl(
        currLogprobs,
        inputs.refLogprobs!,
        o.reference_policy_kl_type,
        o.kl_input_clamp_value,
        o.kl_output_clamp_value,
        finiteOrZero(tf.exp(logW)),
      );
      kl = reduce(tf.mul(perTok, beta));
    }

    // ratios
    let ratios: tf.Tensor;
    let clamped: tf.Tensor;
    if (o.force_on_policy_ratio) {
      ratios = tf.exp(tf.sub(currLogprobs, stopGradient(currLogprobs)));
      clamped = ratios;
    } else if (!o.disable_ppo_ratio) {
      const logRatios = tf.sub(currLogprobs, prev);
      ratios = o.sequence_level_importance_ratios
        ? tf.mul(
            tf.expandDims(tf.exp(rowMaskedMean(logRatios, tokenMask)), 1),
            tf.onesLike(logRatios),
          )
        : tf.exp(logRatios);
      clamped = tf.clipByValue(ratios, 1 - o.ratio_clip_min, 1 + o.ratio_clip_max);
    } else {
      ratios = currLogprobs;
      clamped = currLogprobs;
    }

    let clipLoss: tf.Tensor;
    if (o.use_cispo) {
      clipLoss = tf.mul(tf.mul(tf.neg(adv), stopGradient(clamped)), currLogprobs);
    } else if (o.use_sapo) {
      // per-token temperature: τ_pos where A > 0, τ_neg elsewhere (a constant)
      const tau = constant(
        (a) =>
          tf.where(
            tf.greater(a, 0),
            tf.fill(a.shape, o.sapo_temperature_pos),
            tf.fill(a.shape, o.sapo_temperature_neg),
          ),
        adv,
      );
      const gate = tf.div(tf.mul(tf.sigmoid(tf.mul(tau, tf.sub(ratios, 1))), 4), tau);
      clipLoss = tf.mul(tf.neg(adv), gate);
    } else {
      const unclipped = o.delta !== null ? tf.minimum(ratios, o.delta) : ratios;
      clipLoss = tf.maximum(tf.mul(tf.neg(adv), unclipped), tf.mul(tf.neg(adv), clamped));
    }
    if (o.ratio_clip_c !== null) {
      const negAdv = constant((a) => tf.less(a, 0), adv);
      clipLoss = tf.where(
        negAdv as tf.Tensor,
        tf.minimum(clipLoss, tf.mul(tf.neg(adv), o.ratio_clip_c)),
        clipLoss,
      );
    }

    // off-policy importance weights π_prev / π_gen (constants)
    const isMetrics: Metrics = {};
    let isWeights: tf.Tensor;
    if (o.sequence_level_importance_ratios) {
      isWeights = nanToZero(tf.expandDims(tf.exp(tf.sum(tf.mul(tf.sub(prev, gen), mask), -1)), 1));
    } else {
      isWeights = nanToZero(tf.exp(tf.sub(prev, gen)));
    }
    const tisMax = o.truncated_importance_sampling_ratio;
    const tisMin = o.truncated_importance_sampling_ratio_min ?? 0;
    if (o.truncated_importance_sampling_type === 'tis') {
      isWeights = tf.clipByValue(isWeights, tisMin, tisMax!);
    } else if (o.truncated_importance_sampling_type === 'icepop') {
      const w = isWeights;
      const kept = constant(
        () =>
          tf.cast(tf.logicalAnd(tf.greaterEqual(w, tisMin), tf.lessEqual(w, tisMax!)), 'float32'),
        w,
      );
      isMetrics['is_oob_ratio'] = metric(() => tf.sub(1, tokMean(kept)), kept);
      isWeights = tf.mul(w, kept);
    } else if (o.truncated_importance_sampling_type === 'seq-mask-tis') {
      const geo = constant(
        () => tf.exp(rowMaskedMean(nanToZero(tf.sub(prev, gen)), tokenMask)),
        prev,
        gen,
      );
      const kept = constant(
        () =>
          tf.cast(
            tf.logicalAnd(tf.greaterEqual(geo, tisMin), tf.lessEqual(geo, tisMax!)),
            'float32',
          ),
        geo,
      );
      isMetrics['is_oob_ratio'] = metric(
        () => maskedMean(tf.sub(1, kept), sampleMask, nSeqs),
        kept,
      );
      isWeights = tf.mul(isWeights, tf.expandDims(kept, 1));
    }
    isWeights = stopGradient(isWeights);
    let weighted = o.use_importance_sampling_correction ? tf.mul(isWeights, clipLoss) : clipLoss;
    if (o.top_entropy_quantile < 1) {
      const keep = constant(
        (h, m) => highEntropyMask(h, m, 1 - o.top_entropy_quantile),
        inputs.entropies!,
        mask,
      );
      isMetrics['entropy_mask_ratio'] = metric(() => tf.sub(1, tokMean(keep)), keep);
      weighted = tf.mul(weighted, keep);
    }
    if (o.off_policy_mask_threshold !== null) {
      // keep a sample when A ≥ 0 or its mean log(π_gen/π) over valid tokens is ≤ δ (constant)
      const delta = o.off_policy_mask_threshold;
      const keep = constant(
        (a, g, c) => {
          const seqKl = tf.expandDims(rowMaskedMean(tf.sub(g, c), tokenMask), 1);
          return tf.cast(
            tf.logicalOr(tf.greaterEqual(a, 0), tf.lessEqual(seqKl, delta)),
            'float32',
          );
        },
        adv,
        gen,
        currLogprobs,
      );
      isMetrics['off_policy_mask_ratio'] = metric(() => tf.sub(1, tokMean(keep)), keep);
      weighted = tf.mul(weighted, keep);
    }
    const actorLoss = reduce(weighted);

    // VAPO positive-example NLL
    let nll = tf.scalar(0) as tf.Scalar;
    if (o.positive_example_nll_weight > 0) {
      const positive = constant((r) => tf.cast(tf.greater(r, 0), 'float32'), inputs.rewards!);
      const posMask = tf.mul(mask, tf.expandDims(positive, 1));
      const den = inputs.globalPositiveToks ?? tf.sum(posMask);
      // NeMo RL skips the term when no token is positive; with a zero count the numerator is 0 too
      nll = tf.neg(maskedMean(currLogprobs, posMask, den)) as tf.Scalar;
    }

    // entropy bonus: −c·H of the current policy, through the same reduction as the policy term
    const entropyLoss =
      o.entropy_coef !== 0
        ? (tf.mul(reduce(inputs.policyEntropies!), -o.entropy_coef) as tf.Scalar)
        : (tf.scalar(0) as tf.Scalar);
    const nllLoss = tf.mul(nll, o.positive_example_nll_weight) as tf.Scalar;
    const loss = tf.add(tf.add(tf.add(actorLoss, kl), nllLoss), entropyLoss) as tf.Scalar;

    // metrics (NeMo RL names); all constants
    const cur = stopGradient(currLogprobs);
    const r = stopGradient(ratios);
    const rc = stopGradient(clamped);
    const validIdx = () => tf.greater(mask, 0);
    const maskedExtreme = (v: tf.Tensor, fn: 'min' | 'max') =>
      metric(() => {
        const fill = fn === 'min' ? Infinity : -Infinity;
        const vv = tf.where(validIdx(), v, tf.fill(v.shape, fill));
        return fn === 'min' ? tf.min(vv) : tf.max(vv);
      }, v);
    const klSchulman = (a: tf.Tensor, b: tf.Tensor) =>
      calculateKl(a, b, o.reference_policy_kl_type, null, null);
    const metrics: Metrics = {
      loss: metric(() => loss, loss),
      actor_loss: metric(() => actorLoss, actorLoss),
      // the loss's components: loss = actor_loss + kl_loss + nll_loss + entropy_loss
      kl_loss: metric(() => kl, kl),
      nll_loss: metric(() => nllLoss, nllLoss),
      entropy_loss: metric(() => entropyLoss, entropyLoss),
      probs_ratio: metric(() => tokMean(r), r),
      probs_ratio_clamped: metric(() => tokMean(rc), rc),
      probs_ratio_min: maskedExtreme(r, 'min'),
      probs_ratio_max: maskedExtreme(r, 'max'),
      probs_ratio_clamped_min: maskedExtreme(rc, 'min'),
      probs_ratio_clamped_max: maskedExtreme(rc, 'max'),
      kl_penalty: beta !== 0 ? metric(() => tf.div(kl, beta), kl) : 0,
      token_mult_prob_error: metric(
        () => tokMean(tf.exp(tf.mul(tf.abs(tf.sub(gen, prev)), mask))),
        gen,
        prev,
      ),
      gen_kl_error: metric(() => tokMean(klSchulman(gen, prev)), gen, prev),
      policy_kl_error: metric(() => tokMean(klSchulman(prev, gen)), gen, prev),
      js_divergence_error: metric(
        () => {
          const logMix = tf.log(tf.add(tf.mul(tf.exp(prev), 0.5), tf.mul(tf.exp(gen), 0.5)));
          const k = (x: tf.Tensor) =>
            tf.sub(tf.sub(tf.exp(tf.sub(x, logMix)), tf.sub(x, logMix)), 1);
          return tokMean(tf.add(tf.mul(k(prev), 0.5), tf.mul(k(gen), 0.5)));
        },
        gen,
        prev,
      ),
      sampling_importance_ratio: o.sequence_level_importance_ratios
        ? metric(() => maskedMean(tf.reshape(isWeights, [B]), sampleMask, nSeqs), isWeights)
        : metric(() => tokMean(isWeights), isWeights),
      approx_entropy: metric(
        () => tf.neg(tokMean(tf.mul(tf.exp(tf.sub(cur, gen)), cur))),
        cur,
        gen,
      ),
      num_valid_samples: metric(() => tf.sum(sampleMask), sampleMask),
      positive_nll_loss: metric(() => nll, nll),
      ...(inputs.policyEntropies
        ? {
            entropy: metric(
              () => tokMean(stopGradient(inputs.policyEntropies!)),
              inputs.policyEntropies,
            ),
          }
        : {}),
      ...isMetrics,
    };
    return { loss, metrics };
  });
}
