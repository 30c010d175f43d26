import * as tf from '@tensorflow/tfjs-core';
import { sampleRowsNative } from '@rxrl/core';
import type { Rng } from '@rxrl/core/base';
import type { SampledToken } from './sampleToken';
import type { SamplingParams } from './samplingParams';
import { topKOnDevice } from './topKOnDevice';

/** Candidates a top-p row starts with; rows whose nucleus is wider ask for 8x more. */
const NUCLEUS_FIRST_K = 64;

/** Largest uniform sent to the device: keeps `u · total` below the row total in float32. */
const U_MAX = 1 - 2 ** -20;

/**
 * Draw one token per row of `[B, V]` logits without downloading the rows:
 * greedy takes the device's arg-max; plain temperature sampling (with min-p)
 * inverts the CDF on the device with one host uniform per row; top-k and
 * top-p reduce each row to its top candidates on the device and draw among
 * them on the host, widening the candidates until the nucleus fits. Rows with
 * a null `rngs[j]` (finished rows) draw nothing and use no randomness; every
 * other row uses exactly one `rng.float()` (none when greedy), like
 * `sampleToken`. Log-probs are `log softmax(logits / T)[token]` (T = 1 when
 * greedy). Does not dispose `logits`.
 */
export async function sampleOnDevice(
  logits: tf.Tensor2D,
  params: SamplingParams,
  rngs: ReadonlyArray<Rng | null>,
): Promise<Array<SampledToken | null>> {
  const [b, v] = logits.shape;
  if (rngs.length !== b) throw new RangeError(`sampleOnDevice: ${rngs.length} rngs for ${b} rows`);
  const out = new Array<SampledToken | null>(b).fill(null);
  if (params.temperature === 0) {
    const c = await topKOnDevice(logits, 1, 0);
    rngs.forEach((r, j) => {
      if (r !== null)
        out[j] = { token: c.indices[j]!, logprob: c.values[j]! - c.logNormalizers[j]! };
    });
    return out;
  }
  const topK = params.top_k !== null && params.top_k < v ? params.top_k : null;
  if (topK === null && params.top_p >= 1) {
    const u = Float32Array.from(rngs, (r) => (r === null ? 0 : Math.min(r.float(), U_MAX)));
    const { tokens, logprobs } = await inverseCdfOnDevice(logits, params, u);
    rngs.forEach((r, j) => {
      if (r !== null) out[j] = { token: tokens[j]!, logprob: logprobs[j]! };
    });
    return out;
  }
  let k = topK ?? Math.min(NUCLEUS_FIRST_K, v);
  let pending = rngs.some((r) => r !== null);
  while (pending) {
    const c = await topKOnDevice(logits, k, params.temperature, params.min_p);
    pending = false;
    for (let j = 0; j < b; j++) {
      const r = rngs[j]!;
      if (r === null || out[j] !== null) continue;
      const drawn = drawFromCandidates(
        c.values.subarray(j * k, (j + 1) * k),
        c.indices.subarray(j * k, (j + 1) * k),
        c.logNormalizers[j]!,
        // top-k: the candidates are the whole top-k set; else top-p is over the min-p set's mass
        topK !== null ? null : c.minPMass![j]!,
        k === v,
        params,
        r,
      );
      if (drawn === null) pending = true;
      else out[j] = drawn;
    }
    k = Math.min(v, k * 8);
  }
  return out;
}

/**
 * Filter one row's device candidates (`values` = the k largest `logits / T`,
 * descending, with their vocab `indices`) like `filterTokens` does a whole
 * row — min-p, then top-p over `mass` (the weight of every token min-p keeps,
 * in units of the top token's; null: the candidates' own) — and draw with one
 * `rng.float()` over the kept ids in ascending order. Returns null, drawing
 * nothing, when the nucleus may reach past the candidates (`complete`: they
 * are the whole vocabulary).
 */
export function drawFromCandidates(
  values: Float32Array,
  indices: Int32Array,
  logNormalizer: number,
  mass: number | null,
  complete: boolean,
  params: SamplingParams,
  rng: Rng,
): SampledToken | null {
  const k = values.length;
  // descending weight, ascending id on ties: the order the host filters walk
  const order = Array.from({ length: k }, (_, j) => j).sort(
    (a, b) => values[b]! - values[a]! || indices[a]! - indices[b]!,
  );
  const top = values[order[0]!]!;
  const w = (j: number) => Math.exp(values[j]! - top);
  let kept = order.filter((j) => w(j) >= params.min_p);
  if (params.top_p < 1) {
    const target = params.top_p * (mass ?? kept.reduce((s, j) => s + w(j), 0));
    let before = 0;
    let n = 0;
    while (n < kept.length && before < target) before += w(kept[n++]!);
    const smallest = w(order[k - 1]!);
    // short of the target, or cut at the candidates' smallest weight (equal tokens may lie outside)
    if (!complete && mass !== null && (before < target || w(kept[n - 1]!) <= smallest)) return null;
    kept = kept.slice(0, n);
  }
  kept.sort((a, b) => indices[a]! - indices[b]!);
  let total = 0;
  for (const j of kept) total += w(j);
  let u = rng.float() * total;
  let pick = kept[kept.length - 1]!;
  for (const j of kept) {
    u -= w(j);
    if (u < 0) {
      pick = j;
      break;
    }
  }
  return { token: indices[pick]!, logprob: values[pick]! - logNormalizer };
}

/**
 * Inverse-CDF sampling on the device: per row, the first token whose
 * cumulative weight `Σ exp(logits/T − max)` (tokens under `min_p` of the top
 * weigh 0) exceeds `u · total`. Downloads `[B]` tokens and log-probs only.
 */
export async function inverseCdfOnDevice(
  logits: tf.Tensor2D,
  params: SamplingParams,
  uniforms: Float32Array,
): Promise<{ tokens: Int32Array; logprobs: Float32Array }> {
  const [b, v] = logits.shape;
  // one native kernel where the backend has it: the same steps, rounded the same way
  const fused = sampleRowsNative(logits, params.temperature, params.min_p, uniforms);
  const [tokens, logprobs] = fused
    ? [fused.tokens, fused.logprobs]
    : tf.tidy(() => {
        const scaled = params.temperature === 1 ? logits : tf.div(logits, params.temperature);
        const max = tf.max(scaled, 1, true);
        const e = tf.exp(tf.sub(scaled, max));
        const lse = tf.add(tf.reshape(max, [b]), tf.log(tf.sum(e, 1)));
        const w =
          params.min_p > 0 ? tf.where(tf.greaterEqual(e, params.min_p), e, tf.zerosLike(e)) : e;
        const cdf = tf.cumsum(w, 1);
        const total = tf.slice(cdf, [0, v - 1], [b, 1]);
        const x = tf.mul(tf.tensor2d(uniforms, [b, 1]), total);
        const count = tf.sum(tf.cast(tf.lessEqual(cdf, x), 'int32'), 1);
        const token = tf.minimum(count, tf.scalar(v - 1, 'int32')) as tf.Tensor1D;
        const flat = tf.add(tf.mul(tf.range(0, b, 1, 'int32'), tf.scalar(v, 'int32')), token);
        const picked = tf.gather(tf.reshape(scaled, [b * v]), flat);
        return [token, tf.sub(picked, lse)];
      });
  try {
    const [t, l] = await Promise.all([tokens.data(), logprobs.data()]);
    return { tokens: Int32Array.from(t), logprobs: Float32Array.from(l) };
  } finally {
    tf.dispose([tokens, logprobs]);
  }
}
