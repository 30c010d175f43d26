import { z } from 'zod';

/**
 * NeMo RL `grpo.reward_shaping`: DAPO's soft overlong punishment (Yu et al. 2025,
 * arXiv 2503.14476, eq. 13) and ProRL's stop-properly penalty for truncated answers.
 */
export const RewardShapingOptionsSchema = z
  .object({
    /** apply shaping at all */
    enabled: z.boolean().default(false),
    /** L_cache: width of the zone before max_response_length where the penalty ramps from 0 to its full value */
    overlong_buffer_length: z.number().int().positive().nullable().default(null),
    /** penalty factor: the penalty reached at max_response_length (DAPO uses 1) */
    overlong_buffer_penalty: z.number().nonnegative().nullable().default(null),
    /** L_max: the generation length limit */
    max_response_length: z.number().int().positive().nullable().default(null),
    /** cap the overlong penalty at −overlong_buffer_penalty (the DAPO paper's −1 branch); false keeps NeMo RL's uncapped line, which goes on falling past max_response_length */
    cap_overlong_penalty: z.boolean().default(false),
    /** multiply the reward of samples cut off by the length limit (finish_reason `length`) by this, in [0, 1] */
    stop_properly_penalty_coef: z.number().min(0).max(1).nullable().default(null),
  })
  .strict()
  .superRefine((o, ctx) => {
    const set = [o.overlong_buffer_length, o.overlong_buffer_penalty, o.max_response_length].filter(
      (v) => v !== null,
    );
    if (set.length !== 0 && set.length !== 3) {
      ctx.addIssue({
        code: 'custom',
        message:
          'overlong_buffer_length, overlong_buffer_penalty and max_response_length must be set together',
      });
    }
    if (
      o.overlong_buffer_length !== null &&
      o.max_response_length !== null &&
      o.overlong_buffer_length > o.max_response_length
    ) {
      ctx.addIssue({
        code: 'custom',
        message: 'overlong_buffer_length must be <= max_response_length',
      });
    }
  });

/** Validated reward-shaping options. */
export type RewardShapingOptions = z.infer<typeof RewardShapingOptionsSchema>;

/**
 * DAPO overlong penalty for one response length, NeMo RL's formula:
 * min(−(length − (L_max − L_cache)) / L_cache · penalty, 0) — 0 up to
 * L_max − L_cache, then linear, −penalty at L_max, and still falling beyond it
 * (lengths past L_max happen when the limit counts differently, e.g. a
 * multi-turn total). With `cap` it stops at −penalty (the paper's −1 branch).
 */
export function overlongPenalty(
  length: number,
  maxResponseLength: number,
  bufferLength: number,
  penalty: number,
  cap = false,
): number {
  const exceed = length - (maxResponseLength - bufferLength);
  if (exceed <= 0) return 0;
  return -(cap ? Math.min(exceed / bufferLength, 1) : exceed / bufferLength) * penalty;
}

/** Per-sample inputs of {@link shapeRewards}. */
export interface ShapingInputs {
  rewards: Float32Array;
  /** completion length in tokens (needed for the overlong penalty) */
  responseLengths?: Int32Array;
  /** `finish_reason` per sample (needed for the stop-properly penalty); `length` = truncated */
  finishReasons?: ArrayLike<string | null>;
}

/**
 * Returns shaped rewards: truncated samples scaled by `stop_properly_penalty_coef`,
 * then the DAPO overlong penalty added. NaN (missing) rewards stay NaN.
 */
export function shapeRewards(
  inputs: ShapingInputs,
  options: z.input<typeof RewardShapingOptionsSchema>,
): Float32Array {
  const o = RewardShapingOptionsSchema.parse(options);
  const out = Float32Array.from(inputs.rewards);
  if (!o.enabled) return out;
  const n = out.length;
  if (o.stop_properly_penalty_coef !== null) {
    const fr = inputs.finishReasons;
    if (!fr || fr.length !== n)
      throw new RangeError(`stop_properly_penalty_coef needs finishReasons for all ${n} samples`);
    for (let i = 0; i < n; i++)
      if (fr[i] === 'length') out[i] = out[i]! * o.stop_properly_penalty_coef;
  }
  if (o.max_response_length !== null) {
    const len = inputs.responseLengths;
    if (!len || len.length !== n)
      throw new RangeError(`the overlong penalty needs responseLengths for all ${n} samples`);
    for (let i = 0; i < n; i++) {
      out[i] =
        out[i]! +
        overlongPenalty(
          len[i]!,
          o.max_response_length,
          o.overlong_buffer_length!,
          o.overlong_buffer_penalty!,
          o.cap_overlong_penalty,
        );
    }
  }
  return out;
}
