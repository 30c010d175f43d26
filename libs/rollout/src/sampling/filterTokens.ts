import { kthLargest } from './kthLargest';
import type { SamplingParams } from './samplingParams';

/** The tokens a sampler may draw and their unnormalised weights. */
export interface TokenSupport {
  /** Kept token ids, ascending. */
  ids: Int32Array;
  /** `exp((logit - maxLogit) / temperature)` for each kept id. */
  weights: Float64Array;
  /** `log Σ_all exp(logit / temperature)` over the whole row, so `log p(i) = logit_i / T − logNormalizer`. */
  logNormalizer: number;
}

let scratch = new Float64Array(0);

function scratchOf(n: number): Float64Array {
  if (scratch.length < n) scratch = new Float64Array(n);
  return scratch;
}

/**
 * What survives a filter: every token with weight above `weight`, plus the
 * first `ties` tokens (lowest ids) whose weight equals it. That is the prefix
 * of the (descending weight, ascending id) order, without sorting the row.
 */
interface Cut {
  weight: number;
  ties: number;
}

/**
 * Apply temperature, min-p, top-k and top-p (vLLM's order: min-p on the
 * scaled distribution, top-k, then top-p over what top-k kept) to one row of
 * logits and return what is left. Host float64, no full sort: min-p and the
 * top-p pre-prune are linear scans, top-k a quickselect, and top-p sorts only
 * the weights of its candidates (a native numeric sort). `temperature` must be
 * > 0 here; greedy decoding does not call this.
 */
export function filterTokens(logits: Float32Array, params: SamplingParams): TokenSupport {
  const v = logits.length;
  const invT = 1 / params.temperature;
  let max = -Infinity;
  for (let i = 0; i < v; i++) if (logits[i]! > max) max = logits[i]!;
  const w = scratchOf(v);
  let total = 0;
  for (let i = 0; i < v; i++) total += w[i] = Math.exp((logits[i]! - max) * invT);
  const logNormalizer = max * invT + Math.log(total);

  // min-p: the most likely token has weight exp(0) = 1, so the cut is min_p itself.
  let cut: Cut = { weight: params.min_p, ties: Infinity };
  let count = 0;
  let mass = 0;
  for (let i = 0; i < v; i++) {
    if (w[i]! >= cut.weight) {
      count++;
      mass += w[i]!;
    }
  }
  const topK = params.top_k !== null && params.top_k < count ? params.top_k : null;
  if (topK !== null) {
    const vals = new Float64Array(count);
    for (let i = 0, j = 0; i < v; i++) if (w[i]! >= cut.weight) vals[j++] = w[i]!;
    const kth = kthLargest(vals, topK);
    let above = 0;
    mass = 0;
    for (let i = 0; i < v; i++) {
      if (w[i]! > kth) {
        above++;
        mass += w[i]!;
      }
    }
    cut = { weight: kth, ties: topK - above };
    mass += cut.ties * kth;
    count = topK;
  }
  if (params.top_p < 1) cut = nucleus(w, v, cut, count, mass, params.top_p);

  let n = 0;
  let ties = cut.ties;
  const keep = (x: number) => x > cut.weight || (x === cut.weight && ties-- > 0);
  const ids = new Int32Array(count);
  for (let i = 0; i < v; i++) if (keep(w[i]!)) ids[n++] = i;
  const weights = new Float64Array(n);
  for (let j = 0; j < n; j++) weights[j] = w[ids[j]!]!;
  return { ids: ids.subarray(0, n), weights, logNormalizer };
}

/**
 * Top-p inside the set `cut` keeps (`count` tokens holding `mass`): the
 * shortest prefix of the descending order whose mass reaches `p · mass`.
 */
function nucleus(
  w: Float64Array,
  v: number,
  cut: Cut,
  count: number,
  mass: number,
  p: number,
): Cut {
  // Tokens under (1 − p) · mass / count together hold less than (1 − p) of the
  // mass, so the nucleus lies among the tokens at or above that weight.
  const floor = Math.max(cut.weight, ((1 - p) * mass) / count);
  let n = 0;
  for (let i = 0; i < v; i++)
    if (w[i]! > cut.weight ? w[i]! >= floor : w[i] === cut.weight && floor === cut.weight) n++;
  const vals = new Float64Array(n);
  let ties = cut.ties;
  let j = 0;
  for (let i = 0; i < v && j < n; i++) {
    const x = w[i]!;
    if (x > cut.weight ? x >= floor : x === cut.weight && floor === cut.weight && ties-- > 0)
      vals[j++] = x;
  }
  const sorted = vals.subarray(0, j).sort();
  const target = p * mass;
  let before = 0;
  let k = sorted.length - 1;
  while (k > 0 && before + sorted[k]! < target) before += sorted[k--]!;
  // sorted[k] is the last weight taken; how many of its equals the prefix takes
  const last = sorted[k]!;
  let needed = 1;
  for (let m = k + 1; m < sorted.length && sorted[m] === last; m++) needed++;
  return { weight: last, ties: Math.min(needed, last === cut.weight ? cut.ties : Infinity) };
}
