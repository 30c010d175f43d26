import { z } from 'zod';
import { DEFAULT_ZERO_STD_RTOL } from './groupStats';

/** Advantage estimator names. */
export const ESTIMATORS = ['grpo', 'rloo', 'reinforce_plus_plus', 'gdpo'] as const;

/** Options of {@link computeAdvantages}; names follow NeMo RL (`grpo.*`) and TRL (`GRPOConfig`). */
export const AdvantageOptionsSchema = z
  .object({
    /**
     * `grpo`: group-centred, scaled per `scale_rewards` (Shao et al. 2024, arXiv 2402.03300).
     * `rloo`: r minus the mean of the other samples of the group (Ahmadian et al. 2024, arXiv 2402.14740).
     * `reinforce_plus_plus`: global batch whitening (Hu 2025, arXiv 2501.03262).
     * `gdpo`: each reward component normalised per group, weighted sum, then batch-normalised
     * (Liu et al. 2026, "GDPO: Group reward-Decoupled Normalization Policy Optimization", arXiv 2601.05242).
     */
    estimator: z.enum(ESTIMATORS).default('grpo'),
    /** NeMo RL `grpo.use_leave_one_out_baseline`: baseline and std over the other samples of the group (grpo). */
    use_leave_one_out_baseline: z.boolean().default(false),
    /**
     * TRL `scale_rewards`: divide by the group std (`group`, or `true`), the std of the whole
     * batch (`batch`, Dr. GRPO-style robustness of Liu et al. 2025), or not at all (`none`, or `false`).
     * NeMo RL's `normalize_rewards: false` is `none`. Used by grpo and gdpo's per-component step.
     */
    scale_rewards: z
      .union([z.enum(['group', 'batch', 'none']), z.boolean()])
      .default('group')
      .transform((v) => (v === true ? 'group' : v === false ? 'none' : v)),
    /** Added to the std before dividing (TRL uses 1e-4; NeMo RL divides only where std is non-zero, i.e. 0). */
    std_epsilon: z.number().nonnegative().default(0),
    /** A std at or below `zero_std_rtol * max|reward|` of its set is a float32 residue of zero: no division. */
    zero_std_rtol: z.number().nonnegative().default(DEFAULT_ZERO_STD_RTOL),
    /** TRL RLOO `normalize_advantages`: whiten rloo advantages over the batch afterwards. */
    normalize_advantages: z.boolean().default(false),
    /** REINFORCE++-baseline (OpenRLHF `reinforce_baseline`): subtract the group mean before whitening. */
    group_baseline: z.boolean().default(false),
    /** gdpo: weight of each reward component in the sum (TRL `reward_weights`); default all 1. */
    reward_weights: z.array(z.number()).nullable().default(null),
    /** Clip the final advantages to [low, high] (NeMo RL `advantage_clip`); null keeps them as they are. */
    advantage_clip: z
      .object({
        /** lower bound of the advantages */
        low: z.number(),
        /** upper bound of the advantages */
        high: z.number(),
      })
      .refine((c) => c.low <= c.high, {
        message: 'advantage_clip.low must be <= advantage_clip.high',
      })
      .nullable()
      .default(null),
  })
  .strict();

/** Validated advantage options. */
export type AdvantageOptions = z.infer<typeof AdvantageOptionsSchema>;
/** Advantage options as a user writes them (defaults filled in by the schema). */
export type AdvantageOptionsInput = z.input<typeof AdvantageOptionsSchema>;
