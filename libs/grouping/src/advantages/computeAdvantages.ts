import { RxrlConfigError } from '@rxrl/core/base';
import {
  AdvantageOptionsSchema,
  type AdvantageOptions,
  type AdvantageOptionsInput,
} from './advantageOptions';
import { clipAdvantagesInPlace } from './clipAdvantages';
import { gdpoAdvantages } from './gdpoAdvantages';
import { grpoAdvantages } from './grpoAdvantages';
import { indexGroups, type RewardArray } from './groupStats';
import { reinforcePlusPlusAdvantages } from './reinforcePlusPlusAdvantages';
import { rlooAdvantages } from './rlooAdvantages';
import { whitenInPlace } from './whiten';

/** Inputs of {@link computeAdvantages}, as read from the `reward` / `reward/<name>` and `group_id` columns. */
export interface AdvantageInputs {
  /** total reward per sample (float32 from the `reward` column); NaN = missing */
  rewards?: RewardArray;
  /** reward components per sample (`reward/<name>` columns); required by gdpo */
  rewardComponents?: readonly RewardArray[];
  /** group of each sample (`group_id` or `prompt_id`) */
  groupIds: Int32Array;
  /** valid completion tokens per sample: reinforce_plus_plus whitens over tokens (NeMo RL); default 1 each */
  tokenCounts?: ArrayLike<number>;
}

/** Advantages plus the numbers worth logging. */
export interface AdvantageResult {
  /** per-sample advantage (the `advantage` column) */
  advantages: Float32Array;
  metrics: {
    /** samples whose reward was NaN (advantage 0) */
    num_missing_rewards: number;
    /** advantages changed by `advantage_clip` */
    num_clipped_advantages: number;
    advantage_mean: number;
    advantage_abs_max: number;
  };
}

/** Parses advantage options with the schema, throwing an `RxrlConfigError` that names the bad key. */
export function parseAdvantageOptions(options: AdvantageOptionsInput = {}): AdvantageOptions {
  const parsed = AdvantageOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; ');
    throw new RxrlConfigError(`invalid advantage options: ${issues}`);
  }
  return parsed.data;
}

/** Computes per-sample advantages with the chosen estimator, then applies `advantage_clip`. */
export function computeAdvantages(
  inputs: AdvantageInputs,
  options: AdvantageOptionsInput = {},
): AdvantageResult {
  const o = parseAdvantageOptions(options);
  const gdpo = o.estimator === 'gdpo';
  const primary = gdpo ? inputs.rewardComponents?.[0] : inputs.rewards;
  if (!primary) {
    throw new RxrlConfigError(
      gdpo
        ? 'estimator gdpo needs rewardComponents (one array per reward/<name> column)'
        : `estimator ${o.estimator} needs rewards (the reward column)`,
    );
  }
  const groups = indexGroups(inputs.groupIds, primary.length);
  const common = { stdEpsilon: o.std_epsilon, zeroStdRtol: o.zero_std_rtol };
  let raw: Float64Array;
  switch (o.estimator) {
    case 'grpo':
      raw = grpoAdvantages(primary, groups, {
        leaveOneOut: o.use_leave_one_out_baseline,
        scale: o.scale_rewards,
        ...common,
      });
      break;
    case 'rloo':
      raw = rlooAdvantages(primary, groups);
      break;
    case 'reinforce_plus_plus':
      raw = reinforcePlusPlusAdvantages(primary, groups, {
        groupBaseline: o.group_baseline,
        tokenCounts: inputs.tokenCounts,
        ...common,
      });
      break;
    case 'gdpo':
      raw = gdpoAdvantages(inputs.rewardComponents!, groups, {
        weights: o.reward_weights,
        scale: o.scale_rewards,
        ...common,
      });
      break;
  }
  if (o.estimator === 'rloo' && o.normalize_advantages) {
    // whiten only the samples that had a reward; missing ones stay 0
    raw = raw.map((a, i) => (Number.isNaN(primary[i]!) ? Number.NaN : a));
    whitenInPlace(raw, o.std_epsilon, o.zero_std_rtol);
  }
  const advantages = Float32Array.from(raw);
  const clipped = o.advantage_clip
    ? clipAdvantagesInPlace(advantages, o.advantage_clip.low, o.advantage_clip.high)
    : 0;
  let missing = 0;
  if (gdpo) {
    for (let i = 0; i < primary.length; i++)
      if (inputs.rewardComponents!.every((c) => Number.isNaN(c[i]!))) missing++;
  } else {
    for (const r of primary) if (Number.isNaN(r)) missing++;
  }
  let sum = 0;
  let absMax = 0;
  for (const a of advantages) {
    sum += a;
    absMax = Math.max(absMax, Math.abs(a));
  }
  return {
    advantages,
    metrics: {
      num_missing_rewards: missing,
      num_clipped_advantages: clipped,
      advantage_mean: advantages.length ? sum / advantages.length : 0,
      advantage_abs_max: absMax,
    },
  };
}
