import { z } from 'zod';
import { RxrlConfigError } from '@rxrl/core/base';
import type { RewardFn, RewardSample } from './sample';

const normalisation = {
  /** Strip leading and trailing whitespace before comparing. */
  trim: z.boolean().default(true),
  /** Compare case-insensitively. */
  ignore_case: z.boolean().default(false),
  /** Collapse runs of whitespace to one space. */
  collapse_whitespace: z.boolean().default(false),
  /** Reward for a match. */
  correct_reward: z.number().default(1),
  /** Reward for no match. */
  incorrect_reward: z.number().default(0),
};

function normalise(
  s: string,
  o: { trim: boolean; ignore_case: boolean; collapse_whitespace: boolean },
): string {
  let t = o.trim ? s.trim() : s;
  if (o.collapse_whitespace) t = t.replace(/\s+/g, ' ');
  return o.ignore_case ? t.toLowerCase() : t;
}

/** Options of `reward.exact_match`. */
export const exactMatchOptions = z.strictObject(normalisation);

/**
 * Exact match: the (normalised) completion equals the (normalised) `answer`.
 * A sample without ground truth gets null.
 */
export function exactMatchReward(options: z.input<typeof exactMatchOptions> = {}): RewardFn {
  const o = exactMatchOptions.parse(options);
  return (s: RewardSample) =>
    s.answer == null
      ? null
      : normalise(s.completion, o) === normalise(s.answer, o)
        ? o.correct_reward
        : o.incorrect_reward;
}

/** Options of `reward.regex_match`. */
export const regexMatchOptions = z.strictObject({
  ...normalisation,
  /** Regular expression (JavaScript syntax) searched for in the completion. */
  pattern: z.string().min(1),
  /** Extra RegExp flags (e.g. `s`, `m`); `i` is added when `ignore_case` is set. */
  flags: z
    .string()
    .regex(/^[dgimsuvy]*$/, 'RegExp flags')
    .default(''),
  /**
   * When set, the pattern must match and this capture group (number or name) must equal
   * the normalised `answer`; when unset, any match is correct.
   */
  answer_group: z.union([z.number().int().nonnegative(), z.string().min(1)]).optional(),
  /** Require the pattern to match the whole completion, not just part of it. */
  full_match: z.boolean().default(false),
});

/** Regex match: the completion matches `pattern`; optionally a capture group must equal the answer. */
export function regexMatchReward(options: z.input<typeof regexMatchOptions>): RewardFn {
  const o = regexMatchOptions.parse(options);
  let re: RegExp;
  try {
    const flags =
      o.flags.replace(/[gy]/g, '') + (o.ignore_case && !o.flags.includes('i') ? 'i' : '');
    re = new RegExp(o.full_match ? `^(?:${o.pattern})$` : o.pattern, flags);
  } catch (e) {
    throw new RxrlConfigError(
      `reward.regex_match: pattern ${JSON.stringify(o.pattern)} is not a valid RegExp: ${(e as Error).message}`,
    );
  }
  return (s: RewardSample) => {
    const m = re.exec(normalise(s.completion, o));
    if (!m) return o.incorrect_reward;
    if (o.answer_group === undefined) return o.correct_reward;
    if (s.answer == null) return null;
    const got = typeof o.answer_group === 'number' ? m[o.answer_group] : m.groups?.[o.answer_group];
    return got !== undefined && normalise(got, o) === normalise(s.answer, o)
      ? o.correct_reward
      : o.incorrect_reward;
  };
}
