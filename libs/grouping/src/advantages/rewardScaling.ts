import { z } from 'zod';

/** NeMo RL `grpo.reward_scaling`: clamp rewards to a source range, then map it linearly onto a target range. */
export const RewardScalingOptionsSchema = z
  .object({
    /** apply the scaling at all */
    enabled: z.boolean().default(false),
    /** rewards below this are clamped to it before mapping */
    source_min: z.number().default(0),
    /** rewards above this are clamped to it before mapping */
    source_max: z.number().default(1),
    /** value `source_min` maps to */
    target_min: z.number().default(0),
    /** value `source_max` maps to */
    target_max: z.number().default(1),
  })
  .strict()
  .refine((o) => o.source_max > o.source_min, {
    message: 'reward_scaling.source_max must be > source_min',
  });

/** Validated reward-scaling options. */
export type RewardScalingOptions = z.infer<typeof RewardScalingOptionsSchema>;

/**
 * Returns clamp(r, source_min, source_max) mapped linearly from [source_min, source_max]
 * onto [target_min, target_max]. NaN (missing) rewards stay NaN. A copy when disabled.
 */
export function scaleRewards(
  rewards: Float32Array,
  options: z.input<typeof RewardScalingOptionsSchema>,
): Float32Array {
  const o = RewardScalingOptionsSchema.parse(options);
  const out = Float32Array.from(rewards);
  if (!o.enabled) return out;
  const k = (o.target_max - o.target_min) / (o.source_max - o.source_min);
  for (let i = 0; i < out.length; i++) {
    const r = out[i]!;
    if (Number.isNaN(r)) continue;
    const c = Math.min(Math.max(r, o.source_min), o.source_max);
    out[i] = o.target_min + (c - o.source_min) * k;
  }
  return out;
}
