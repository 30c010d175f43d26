import { RxrlUsageError } from '@rxrl/core/base';

/**
 * NeMo RL's `token_mult_prob_error`: the mean over valid tokens of
 * `exp(|gen_logprob − train_logprob|)`, i.e. the average multiplicative gap
 * between the probability the generator assigned to each sampled token and the
 * one the trainer computes for it. 1.0 means they agree exactly; it grows when
 * the generation and training numerics (or weights) drift apart. Inputs are
 * flat and aligned token by token; `mask` (1 = valid) defaults to all valid.
 * Returns NaN when no token is valid.
 */
export function tokenMultProbError(
  genLogprobs: ArrayLike<number>,
  trainLogprobs: ArrayLike<number>,
  mask?: ArrayLike<number> | null,
): number {
  if (genLogprobs.length !== trainLogprobs.length) {
    throw new RxrlUsageError(
      `tokenMultProbError: ${genLogprobs.length} generation log-probs vs ${trainLogprobs.length} training log-probs`,
    );
  }
  if (mask && mask.length !== genLogprobs.length) {
    throw new RxrlUsageError(
      `tokenMultProbError: mask has ${mask.length} entries, log-probs have ${genLogprobs.length}`,
    );
  }
  let sum = 0;
  let count = 0;
  for (let i = 0; i < genLogprobs.length; i++) {
    const m = mask ? mask[i]! : 1;
    if (m === 0) continue;
    sum += m * Math.exp(Math.abs(genLogprobs[i]! - trainLogprobs[i]!));
    count += m;
  }
  return count > 0 ? sum / count : NaN;
}
