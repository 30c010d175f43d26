import { finalize } from 'rxjs';
import type { z } from 'zod';
import type { Stage } from '@rxrl/core/base';
import {
  exactMatchOptions,
  exactMatchReward,
  regexMatchOptions,
  regexMatchReward,
} from './matchReward';
import { formatReward, formatRewardOptions } from './formatReward';
import { jsFunctionOptions, jsModuleReward } from './jsFunctionReward';
import { lengthPenalty, lengthPenaltyOptions } from './lengthPenalty';
import { mathReward, mathRewardOptions } from './mathReward';
import { remoteReward, remoteRewardOptions } from './remoteReward';
import type { RewardFn } from './sample';
import { workerPoolOptions } from './workerPool';
import { workerReward } from './workerReward';

/** A reward function constructor addressable by name. */
export interface RewardFunctionEntry {
  schema: z.ZodObject;
  create(options: any): RewardFn;
}

/** Reward functions by short name, for YAML: `type: math` in a composite, or the stage `reward.math`. */
export const rewardFunctions = {
  math: { schema: mathRewardOptions, create: mathReward },
  exact_match: { schema: exactMatchOptions, create: exactMatchReward },
  regex_match: { schema: regexMatchOptions, create: regexMatchReward },
  format: { schema: formatRewardOptions, create: formatReward },
  length: { schema: lengthPenaltyOptions, create: lengthPenalty },
  js: { schema: jsFunctionOptions, create: jsModuleReward },
  worker: { schema: workerPoolOptions, create: workerReward },
  remote: {
    schema: remoteRewardOptions,
    create: (o: z.input<typeof remoteRewardOptions>) => remoteReward(o),
  },
} satisfies Record<string, RewardFunctionEntry>;
export type RewardFunctionName = keyof typeof rewardFunctions;

/** Reward functions that compare against the ground truth, and so need the `answer` column. */
export const NEEDS_ANSWER: ReadonlySet<string> = new Set<string>(['math', 'exact_match']);

/** Ends resources (worker threads) of functions the registry made, when the stream ends or is unsubscribed. */
export function owning(stage: Stage, fns: RewardFn[]): Stage {
  const closers = fns
    .map((f) => (f as { close?: () => Promise<void> }).close)
    .filter((c) => c !== undefined);
  if (closers.length === 0) return stage;
  return (source) => stage(source).pipe(finalize(() => closers.forEach((c) => void c())));
}
