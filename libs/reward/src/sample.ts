import { RxrlError } from '@rxrl/core/base';

/**
 * What a reward function sees: one generated sample, read from the batch's columns
 * (DESIGN.md names) plus every other scalar column under its own name.
 */
export interface RewardSample {
  /** `prompt_text`. */
  prompt: string;
  /** `completion_text`. */
  completion: string;
  /** `answer`: ground truth for verifiable tasks. */
  answer?: string | null;
  /** `finish_reason`: `stop` or `length`. */
  finishReason?: string | null;
  /** Number of generated tokens (length of `completion_tokens`) when the batch has them. */
  completionTokens?: number;
  /** Other scalar columns (numbers, strings, booleans) under their column names. */
  [column: string]: unknown;
}

/** Why a sample got no reward; counted per batch as `reward/<kind>s`. */
export type RewardFailure = 'timeout' | 'error';

/**
 * Passed by the stage as a second argument so a reward function can report why it
 * returned null without throwing (a worker timeout, a verifier that threw).
 */
export interface RewardContext {
  report(kind: RewardFailure, detail?: string): void;
}

/** The value of a reward: a number, or null when the sample has none (becomes NaN in the column). */
export type RewardValue = number | null;

/**
 * A reward function: plain, sync or async. `batch`, when present, scores many samples
 * in one call (a remote reward model takes a whole batch per request); the stage prefers it.
 */
export interface RewardFn {
  (sample: RewardSample, ctx?: RewardContext): RewardValue | Promise<RewardValue>;
  batch?: (samples: RewardSample[], ctx?: RewardContext) => Promise<RewardValue[]>;
}

/** A named component of a composite reward. */
export interface RewardComponent {
  name: string;
  fn: RewardFn;
  /** Weight in the total; default 1. */
  weight?: number;
}

/** A context that drops reports: for calling a reward function outside the stage. */
export const noopContext: RewardContext = { report: () => undefined };

/**
 * A failure that must stop the run rather than cost one sample its reward: a remote
 * reward model that stayed down past its retries, a verifier module that cannot load.
 * The stage turns other errors into a null reward and an error count.
 */
export class RewardFatalError extends RxrlError {}
