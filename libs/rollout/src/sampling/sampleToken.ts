import type { Rng } from '@rxrl/core/base';
import { filterTokens } from './filterTokens';
import type { SamplingParams } from './samplingParams';

/** A drawn token and its log-probability under the policy (see {@link policyLogprob}). */
export interface SampledToken {
  token: number;
  logprob: number;
}

/**
 * `log softmax(logits / T)[token]` in float64, with T = 1 when `temperature`
 * is 0. This is what `gen_logprobs` holds: the policy's own log-prob at the
 * sampling temperature, before top-k / top-p / min-p truncation — vLLM's
 * `processed_logprobs` as NeMo RL configures it, and what NeMo RL's trainer
 * recomputes (logits divided by the generation temperature), so the two agree
 * when the policy has not changed.
 */
export function policyLogprob(logits: Float32Array, token: number, temperature: number): number {
  const invT = temperature > 0 ? 1 / temperature : 1;
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp((logits[i]! - max) * invT);
  return (logits[token]! - max) * invT - Math.log(sum);
}

/** Index of the largest logit (lowest index on ties, like `tf.argMax`). */
export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

/**
 * Draw one token from a row of logits with `params`, using one `rng.float()`
 * (none when greedy). Returns the token and its {@link policyLogprob}.
 */
export function sampleToken(logits: Float32Array, params: SamplingParams, rng: Rng): SampledToken {
  if (params.temperature === 0) {
    const token = argmax(logits);
    return { token, logprob: policyLogprob(logits, token, 0) };
  }
  const { ids, weights, logNormalizer } = filterTokens(logits, params);
  let total = 0;
  for (let i = 0; i < weights.length; i++) total += weights[i]!;
  let u = rng.float() * total;
  let token = ids[ids.length - 1]!;
  for (let i = 0; i < ids.length; i++) {
    u -= weights[i]!;
    if (u < 0) {
      token = ids[i]!;
      break;
    }
  }
  return { token, logprob: logits[token]! / params.temperature - logNormalizer };
}
