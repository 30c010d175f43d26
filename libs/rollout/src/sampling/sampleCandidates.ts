import type { Rng } from '@rxrl/core/base';
import { filterTokens } from './filterTokens';
import type { SampledToken } from './sampleToken';
import type { SamplingParams } from './samplingParams';

/**
 * Sample one token from a row's top-k candidates computed on the device:
 * `values` are the k largest `logits / T` (T = 1 when greedy) with their vocab
 * `indices`, and `logNormalizer` is `logSumExp(logits / T)` over the whole row.
 * Candidates are visited in ascending id order and filtered exactly like
 * {@link filterTokens} (min-p against the top value, then top-p over the k), so
 * with the same RNG state this draws the same token as the host path on the
 * full row. Greedy takes the first candidate.
 */
export function sampleCandidates(
  values: Float32Array,
  indices: Int32Array,
  logNormalizer: number,
  params: SamplingParams,
  rng: Rng,
): SampledToken {
  if (params.temperature === 0) return { token: indices[0]!, logprob: values[0]! - logNormalizer };
  const k = values.length;
  const order = Array.from({ length: k }, (_, j) => j).sort((a, b) => indices[a]! - indices[b]!);
  const scaled = Float32Array.from(order, (j) => values[j]!);
  // already scaled and already top-k: filter with T = 1 and no k
  const { ids, weights } = filterTokens(scaled, {
    temperature: 1,
    top_k: null,
    top_p: params.top_p,
    min_p: params.min_p,
  });
  let total = 0;
  for (let i = 0; i < weights.length; i++) total += weights[i]!;
  let u = rng.float() * total;
  let pick = ids[ids.length - 1]!;
  for (let i = 0; i < ids.length; i++) {
    u -= weights[i]!;
    if (u < 0) {
      pick = ids[i]!;
      break;
    }
  }
  return { token: indices[order[pick]!]!, logprob: scaled[pick]! - logNormalizer };
}
