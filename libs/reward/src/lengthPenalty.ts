import { z } from 'zod';
import { RxrlConfigError } from '@rxrl/core/base';
import type { RewardFn, RewardSample } from './sample';

/** Options of `reward.length`. */
export const lengthPenaltyOptions = z.strictObject({
  /** Length up to which there is no penalty. */
  target_length: z.number().int().nonnegative(),
  /** Length at which the penalty reaches `max_penalty` (and stays there beyond). */
  max_length: z.number().int().positive(),
  /**
   * `linear`: DAPO's soft overlong punishment, −max_penalty·(len − target)/(max − target).
   * `cosine`: the same ramp on a half cosine, −max_penalty·(1 − cos(π·(len − target)/(max − target)))/2,
   * flat at both ends (after the cosine length scaling of Yeo et al., 2025).
   */
  shape: z.enum(['linear', 'cosine']).default('linear'),
  /** Penalty magnitude at and beyond `max_length`; the reward is its negative. */
  max_penalty: z.number().nonnegative().default(1),
  /** What length counts: `tokens` (the `completion_tokens` count), `chars`, or `auto` (tokens when present, else chars). */
  unit: z.enum(['auto', 'tokens', 'chars']).default('auto'),
  /** Give the full penalty to completions cut off by the length limit (`finish_reason` = `length`). */
  penalize_truncated: z.boolean().default(false),
});
export type LengthPenaltyOptions = z.infer<typeof lengthPenaltyOptions>;

/** Length penalty: 0 up to `target_length`, falling to −`max_penalty` at `max_length`. */
export function lengthPenalty(options: z.input<typeof lengthPenaltyOptions>): RewardFn {
  const o = lengthPenaltyOptions.parse(options);
  if (o.max_length <= o.target_length)
    throw new RxrlConfigError(
      `reward.length: max_length (${o.max_length}) must be greater than target_length (${o.target_length})`,
    );
  const span = o.max_length - o.target_length;
  return (s: RewardSample) => {
    if (o.penalize_truncated && s.finishReason === 'length') return -o.max_penalty;
    let len: number;
    if (o.unit === 'chars') len = s.completion.length;
    else if (typeof s.completionTokens === 'number') len = s.completionTokens;
    else if (o.unit === 'tokens')
      return null; // asked for tokens, batch has none: no measurement
    else len = s.completion.length;
    if (len <= o.target_length) return 0;
    if (len >= o.max_length) return -o.max_penalty;
    const x = (len - o.target_length) / span;
    return o.shape === 'linear'
      ? -o.max_penalty * x
      : (-o.max_penalty * (1 - Math.cos(Math.PI * x))) / 2;
  };
}
