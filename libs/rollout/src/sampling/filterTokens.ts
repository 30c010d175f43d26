import { kthLargest } from './kthLargest';
import type { SamplingParams } from './samplingParams';

/** The tokens a sampler may draw and their unnormalised weights. */
export interface TokenSupport {
  /** Kept token ids; sorted by descending weight (ties: lower id first) when a top-k/top-p filter ran. */
  ids: Int32Array;
  /** `exp((logit - maxLogit) / temperature)` for each kept id. */
  weights: Float64Array;
}

let scratch = new Float64Array(0);

function scratchOf(n: number): Float64Array {
  if (scratch.length < n) scratch = new Float64Array(n);
  return scratch;
}

/**
 * Apply temperature, min-p, top-k and top-p (vLLM's order) to one row of
 * logits and return what is left. Works in float64 on the host: vocabularies of
 * built-in models are small, and for large ones the filters avoid a full sort
 * (min-p and the top-p pre-prune are linear scans, top-k a quickselect).
 * `temperature` must be > 0 here; greedy decoding does not call this.
 */
export function filterTokens(logits: Float32Array, params: SamplingParams): TokenSupport {
  const v = logits.length;
  const invT = 1 / params.temperature;
  let max = -Infinity;
  for (let i = 0; i < v; i++) if (logits[i]! > max) max = logits[i]!;
  const w = scratchOf(v);
  for (let i = 0; i < v; i++) w[i] = Math.exp((logits[i]! - max) * invT);
  // min-p: the most likely token has weight exp(0) = 1, so the cut is min_p itself.
  const minW = params.min_p > 0 ? params.min_p : 0;
  const topK = params.top_k !== null && params.top_k < v ? params.top_k : null;
  const topP = params.top_p < 1 ? params.top_p : null;

  let count = 0;
  let mass = 0;
  for (let i = 0; i < v; i++) {
    if (w[i]! >= minW) {
      count++;
      mass += w[i]!;
    }
  }
  if (topK === null && topP === null) return gather(w, v, minW, count, false);

  let floor = minW;
  let pruned: 'top_k' | 'top_p' | null = null;
  if (topK !== null && topK < count) {
    pruned = 'top_k';
    const vals = new Float64Array(count);
    for (let i = 0, j = 0; i < v; i++) if (w[i]! >= minW) vals[j++] = w[i]!;
    floor = Math.max(floor, kthLargest(vals, topK));
  } else if (topP !== null) {
    pruned = 'top_p';
    // Every token under (1 - p) * mass / count together holds less than
    // (1 - p) of the mass, so the nucleus lies among the tokens at or above it.
    floor = Math.max(floor, ((1 - topP) * mass) / count);
  }
  let n = 0;
  for (let i = 0; i < v; i++) if (w[i]! >= floor) n++;
  const support = gather(w, v, floor, n, true);
  let ids = support.ids;
  let weights = support.weights;
  if (topK !== null && ids.length > topK) {
    // ties at the k-th weight: lower ids win
    ids = ids.subarray(0, topK);
    weights = weights.subarray(0, topK);
  }
  if (topP !== null) {
    // the nucleus is a share of everything min-p and top-k left, not of the pre-pruned set
    let sum = mass;
    if (pruned === 'top_k') {
      sum = 0;
      for (let i = 0; i < weights.length; i++) sum += weights[i]!;
    }
    let kept = 0;
    let before = 0;
    while (kept < ids.length && before < topP * sum) before += weights[kept++]!;
    ids = ids.subarray(0, kept);
    weights = weights.subarray(0, kept);
  }
  return { ids, weights };
}

function gather(w: Float64Array, v: number, floor: number, n: number, sort: boolean): TokenSupport {
  const ids = new Int32Array(n);
  for (let i = 0, j = 0; i < v; i++) if (w[i]! >= floor) ids[j++] = i;
  if (sort) ids.sort((a, b) => w[b]! - w[a]! || a - b);
  const weights = new Float64Array(n);
  for (let j = 0; j < n; j++) weights[j] = w[ids[j]!]!;
  return { ids, weights };
}
