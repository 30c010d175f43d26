import { z } from 'zod';
import type { RewardFn, RewardSample } from './sample';

/** Options of `reward.format`. */
export const formatRewardOptions = z.strictObject({
  /** Tags that must appear, each as `<tag>...</tag>`, in this order. */
  tags: z
    .array(z.string().regex(/^[\w-]+$/, 'a tag name'))
    .min(1)
    .default(['think', 'answer']),
  /**
   * `strict`: 1 for the exact structure (only whitespace between and around the blocks), else 0.
   * `partial`: half the reward is spread over the tags (each opening and closing tag present
   * exactly once earns its share), the other half is paid for the exact structure.
   */
  mode: z.enum(['strict', 'partial']).default('strict'),
  /** Reward for the exact structure (the maximum). */
  max_reward: z.number().default(1),
});
export type FormatRewardOptions = z.infer<typeof formatRewardOptions>;

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Format reward for structured outputs such as `<think>…</think><answer>…</answer>`
 * (DeepSeek-R1's template). In `partial` mode with the default two tags, each of the four
 * tag strings present exactly once is worth 0.125 and the exact structure another 0.5.
 */
export function formatReward(options: z.input<typeof formatRewardOptions> = {}): RewardFn {
  const o = formatRewardOptions.parse(options);
  const structure = new RegExp(
    '^\\s*' + o.tags.map((t) => `<${escape(t)}>[\\s\\S]*?</${escape(t)}>`).join('\\s*') + '\\s*$',
  );
  const markers = o.tags.flatMap((t) => [`<${t}>`, `</${t}>`]);
  return (s: RewardSample) => {
    const exact =
      structure.test(s.completion) && markers.every((m) => count(s.completion, m) === 1);
    if (o.mode === 'strict') return exact ? o.max_reward : 0;
    const present = markers.filter((m) => count(s.completion, m) === 1).length;
    return o.max_reward * (0.5 * (present / markers.length) + (exact ? 0.5 : 0));
  };
}

function count(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) n++;
  return n;
}
