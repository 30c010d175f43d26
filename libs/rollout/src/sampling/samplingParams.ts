import { RxrlConfigError } from '@rxrl/core/base';

/**
 * The per-token sampling controls, with vLLM / NeMo RL names. Filters apply in
 * vLLM's order on the temperature-scaled distribution: min-p, then top-k, then
 * top-p over what top-k kept.
 */
export interface SamplingParams {
  /** 0 = greedy (argmax, lowest id on ties). */
  temperature: number;
  /** Keep the k most likely tokens; null (or >= vocab) disables. */
  top_k: number | null;
  /** Keep the smallest most-likely set whose probability reaches top_p; 1 disables. */
  top_p: number;
  /** Drop tokens whose probability is below min_p times the most likely token's; 0 disables. */
  min_p: number;
}

/** Checks the ranges `SamplingParams` documents; names the offending option. */
export function checkSamplingParams(p: SamplingParams): SamplingParams {
  if (!(p.temperature >= 0) || !Number.isFinite(p.temperature)) {
    throw new RxrlConfigError(`temperature must be a finite number >= 0, got ${p.temperature}`);
  }
  if (p.top_k !== null && !(Number.isInteger(p.top_k) && p.top_k >= 1)) {
    throw new RxrlConfigError(`top_k must be a positive integer or null, got ${p.top_k}`);
  }
  if (!(p.top_p > 0 && p.top_p <= 1))
    throw new RxrlConfigError(`top_p must be in (0, 1], got ${p.top_p}`);
  if (!(p.min_p >= 0 && p.min_p <= 1))
    throw new RxrlConfigError(`min_p must be in [0, 1], got ${p.min_p}`);
  return p;
}
