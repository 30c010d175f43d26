/** A token and its log-probability. */
export interface TokenLogprob {
  token: number;
  logprob: number;
}

/** `log Σ exp(logits / T)` in float64 (T = 1 when `temperature` is 0). */
export function logSumExp(logits: Float32Array, temperature: number): number {
  const invT = temperature > 0 ? 1 / temperature : 1;
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp((logits[i]! - max) * invT);
  return max * invT + Math.log(sum);
}

/**
 * The `k` most likely tokens of one row of logits with their log-probs at
 * `temperature` (most likely first, lowest id first on ties). One pass with a
 * small sorted buffer: k is at most 20, vocabularies are large.
 */
export function topLogprobs(
  logits: Float32Array,
  k: number,
  temperature: number,
  logZ = logSumExp(logits, temperature),
): TokenLogprob[] {
  if (k <= 0) return [];
  const invT = temperature > 0 ? 1 / temperature : 1;
  const ids: number[] = [];
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (ids.length === k && v <= logits[ids[k - 1]!]!) continue;
    let j = ids.length;
    while (j > 0 && logits[ids[j - 1]!]! < v) j--;
    ids.splice(j, 0, i);
    if (ids.length > k) ids.pop();
  }
  return ids.map((token) => ({ token, logprob: logits[token]! * invT - logZ }));
}
