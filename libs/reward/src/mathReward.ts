import { z } from 'zod';
import { answersEquivalent, extractAnswer, goldAnswer } from './mathAnswer';
import type { RewardFn, RewardSample } from './sample';

/** Options of the math verifier (`reward.math`). */
export const mathRewardOptions = z.strictObject({
  /** Where to look for the answer, tried in order; the first that finds one is used. */
  extraction_order: z
    .array(z.enum(['boxed', 'hash', 'answer_tag', 'last_number']))
    .min(1)
    .default(['boxed', 'hash', 'answer_tag', 'last_number']),
  /** Tag read by the `answer_tag` strategy (`<answer>...</answer>`). */
  answer_tag: z.string().min(1).default('answer'),
  /** Absolute tolerance for numeric equivalence. */
  abs_tol: z.number().nonnegative().default(1e-6),
  /** Relative tolerance for numeric equivalence (times the larger magnitude). */
  rel_tol: z.number().nonnegative().default(1e-6),
  /** Reward when the answer is equivalent to the ground truth. */
  correct_reward: z.number().default(1),
  /** Reward when it is not, or when no answer can be found. */
  incorrect_reward: z.number().default(0),
});
export type MathRewardOptions = z.infer<typeof mathRewardOptions>;

/**
 * Math verifier: extracts the final answer (`\boxed{}`, `#### x`, `<answer>`, or the last
 * number) and compares it with `sample.answer` numerically (fractions, `1,234`, percent,
 * units) or, for non-numeric answers, as normalised strings. A sample without a ground
 * truth gets null: there is nothing to verify.
 *
 * @example mathReward()({ prompt: '', completion: 'so \\boxed{\\frac{3}{4}}', answer: '0.75' }) // 1
 */
export function mathReward(options: z.input<typeof mathRewardOptions> = {}): RewardFn {
  const o = mathRewardOptions.parse(options);
  return (sample: RewardSample) => {
    if (sample.answer == null || sample.answer.trim() === '') return null;
    const found = extractAnswer(sample.completion, o.extraction_order, o.answer_tag);
    if (!found) return o.incorrect_reward;
    return answersEquivalent(found.answer, goldAnswer(sample.answer), o)
      ? o.correct_reward
      : o.incorrect_reward;
  };
}
