import { COLUMNS } from '@rxrl/core/base';
import type { ValidatedNode } from '@rxrl/pipeline';
import { exactMatchOptions, mathRewardOptions } from '@rxrl/reward';

/** Reward functions that say right or wrong: `validation/accuracy` is the fraction at their `correct_reward`. */
const VERIFIERS: Record<string, typeof mathRewardOptions | typeof exactMatchOptions> = {
  math: mathRewardOptions,
  exact_match: exactMatchOptions,
};

/**
 * Where `validation/accuracy` is read: the column of the graph's last reward node
 * that a verifier wrote (`reward` of `reward.math` / `reward.exact_match`, or
 * `reward/<name>` of such a `reward.composite` component) and the value that counts
 * as correct (its `correct_reward`, as float32 like the column); null when no verifier
 * scores the samples (no accuracy then, only `validation/reward`).
 */
export function correctRewardOf(
  nodes: readonly ValidatedNode[],
): { column: string; value: number } | null {
  const reward = nodes.filter((n) => n.name.startsWith('reward.')).at(-1);
  if (!reward) return null;
  const kind = reward.name.slice('reward.'.length);
  if (kind in VERIFIERS) {
    const o = reward.options as { correct_reward: number };
    return { column: COLUMNS.reward, value: Math.fround(o.correct_reward) };
  }
  if (kind !== 'composite') return null;
  const components = (
    reward.options as { components: { name: string; type: string; options: unknown }[] }
  ).components;
  const verifier = components.find((c) => c.type in VERIFIERS);
  if (!verifier) return null;
  const o = VERIFIERS[verifier.type]!.parse(verifier.options);
  return { column: `${COLUMNS.reward}/${verifier.name}`, value: Math.fround(o.correct_reward) };
}
