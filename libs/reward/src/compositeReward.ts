import { z } from 'zod';
import { RxrlConfigError } from '@rxrl/core/base';
import type { RewardComponent, RewardContext, RewardFn, RewardSample, RewardValue } from './sample';

/** Options of a weighted composite. */
export const compositeOptions = z.strictObject({
  /**
   * What a null component does to the total: `propagate` makes the total null (the sample
   * is treated as missing downstream); `zero` counts the component as 0.
   */
  null_policy: z.enum(['propagate', 'zero']).default('propagate'),
});
export type CompositeOptions = z.infer<typeof compositeOptions>;

/** A composite reward: callable for the total, and exposing its components so the stage can log each as `reward/<name>`. */
export interface CompositeReward extends RewardFn {
  components: Required<RewardComponent>[];
  options: CompositeOptions;
}

/** Checks names (unique, usable as `reward/<name>` columns) and fills default weights. */
export function normalizeComponents(components: RewardComponent[]): Required<RewardComponent>[] {
  if (components.length === 0)
    throw new RxrlConfigError('reward composite: at least one component is required');
  const seen = new Set<string>();
  return components.map((c, i) => {
    if (!/^[\w.-]+$/.test(c.name))
      throw new RxrlConfigError(
        `reward composite: component ${i} name ${JSON.stringify(c.name)} must match [A-Za-z0-9_.-]+`,
      );
    if (seen.has(c.name))
      throw new RxrlConfigError(`reward composite: duplicate component name '${c.name}'`);
    seen.add(c.name);
    const weight = c.weight ?? 1;
    if (!Number.isFinite(weight))
      throw new RxrlConfigError(
        `reward composite: component '${c.name}' weight must be a finite number, got ${weight}`,
      );
    return { name: c.name, fn: c.fn, weight };
  });
}

/** Weighted sum of component values under the null policy. */
export function combine(
  values: RewardValue[],
  weights: number[],
  policy: CompositeOptions['null_policy'],
): RewardValue {
  let total = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null) {
      if (policy === 'propagate') return null;
      continue;
    }
    total += weights[i] * v;
  }
  return total;
}

/**
 * Weighted composite: total = Σ weight·component. Given to `rewardStage`, each component is
 * also written as a `reward/<name>` column.
 *
 * @example compositeReward([{ name: 'math', fn: mathReward() }, { name: 'format', fn: formatReward(), weight: 0.2 }])
 */
export function compositeReward(
  components: RewardComponent[],
  options: z.input<typeof compositeOptions> = {},
): CompositeReward {
  const parts = normalizeComponents(components);
  const o = compositeOptions.parse(options);
  const weights = parts.map((p) => p.weight);
  const fn = async (sample: RewardSample, ctx?: RewardContext) =>
    combine(await Promise.all(parts.map((p) => p.fn(sample, ctx))), weights, o.null_policy);
  return Object.assign(fn, { components: parts, options: o });
}

/** True for a function made by `compositeReward`. */
export function isComposite(fn: RewardFn): fn is CompositeReward {
  return Array.isArray((fn as Partial<CompositeReward>).components);
}
