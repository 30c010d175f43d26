import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from '@rxrl/model';

/** Prompt + completion rows laid out for one forward pass, as plain typed arrays. */
export interface PolicyBatch {
  rows: number;
  /** longest prompt (prompts are left-padded to it) */
  promptWidth: number;
  /** longest completion (completions are right-padded to it) */
  width: number;
  /** `[rows, promptWidth + width]` token ids */
  ids: Int32Array;
  /** 1 on real tokens */
  attention: Int32Array;
  /** next token of each position (0 where there is none) */
  targets: Int32Array;
  /** `[rows, width]`: 1 on completion tokens */
  tokenMask: Float32Array;
  /** `[rows, width]` values of a per-completion-token column (e.g. gen_logprobs), 0 on padding */
  align(values: Float32Array, offsets: Int32Array): Float32Array;
}

/**
 * Lays out samples `rows` (prompt tokens from `prompts`, completions from `completions`,
 * both flat lists with offsets): prompts left-padded so every completion starts at
 * column `promptWidth`, and the completion log-probs sit in columns
 * `[promptWidth − 1, promptWidth − 1 + width)` of the shifted-target log-probs.
 */
export function policyBatch(
  rows: readonly number[],
  prompts: { values: Int32Array; offsets: Int32Array },
  completions: { values: Int32Array; offsets: Int32Array },
  padId: number,
): PolicyBatch {
  const n = rows.length;
  const plen = (r: number) => prompts.offsets[r + 1]! - prompts.offsets[r]!;
  const clen = (r: number) => completions.offsets[r + 1]! - completions.offsets[r]!;
  const P = Math.max(1, ...rows.map(plen));
  const T = Math.max(1, ...rows.map(clen));
  const L = P + T;
  const ids = new Int32Array(n * L).fill(padId);
  const attention = new Int32Array(n * L);
  const targets = new Int32Array(n * L);
  const tokenMask = new Float32Array(n * T);
  rows.forEach((r, i) => {
    const p = plen(r);
    const c = clen(r);
    const base = i * L;
    ids.set(prompts.values.subarray(prompts.offsets[r]!, prompts.offsets[r + 1]!), base + P - p);
    ids.set(
      completions.values.subarray(completions.offsets[r]!, completions.offsets[r + 1]!),
      base + P,
    );
    attention.fill(1, base + P - p, base + P + c);
    for (let t = P - p; t < P + c - 1; t++) targets[base + t] = ids[base + t + 1]!;
    tokenMask.fill(1, i * T, i * T + c);
  });
  return {
    rows: n,
    promptWidth: P,
    width: T,
    ids,
    attention,
    targets,
    tokenMask,
    align(values, offsets) {
      const out = new Float32Array(n * T);
      rows.forEach((r, i) => out.set(values.subarray(offsets[r]!, offsets[r + 1]!), i * T));
      return out;
    },
  };
}

/**
 * Log-probs `[rows, width]` of the completion tokens under `model` at the
 * sampling `temperature` the completions were drawn at (differentiable; call
 * inside a tape or tidy).
 */
export function completionLogprobs(model: CausalLM, b: PolicyBatch, temperature = 1): tf.Tensor2D {
  const L = b.promptWidth + b.width;
  return tf.tidy(() => {
    const ids = tf.tensor2d(b.ids, [b.rows, L], 'int32');
    const mask = tf.tensor2d(b.attention, [b.rows, L], 'int32');
    const targets = tf.tensor2d(b.targets, [b.rows, L], 'int32');
    const lp = model.tokenLogProbs(ids, mask, targets, { temperature });
    return tf.slice(lp, [0, b.promptWidth - 1], [b.rows, b.width]) as tf.Tensor2D;
  });
}

/**
 * {@link completionLogprobs} and the differentiable entropy of the policy at each
 * completion token, both `[rows, width]`, from one pass through the layers (for
 * `loss_fn.entropy_coef`; call inside a tape or tidy).
 */
export function completionLogprobsAndEntropies(
  model: CausalLM,
  b: PolicyBatch,
  temperature = 1,
): { logprobs: tf.Tensor2D; entropies: tf.Tensor2D } {
  const L = b.promptWidth + b.width;
  const [logprobs, entropies] = tf.tidy(() => {
    const ids = tf.tensor2d(b.ids, [b.rows, L], 'int32');
    const mask = tf.tensor2d(b.attention, [b.rows, L], 'int32');
    const targets = tf.tensor2d(b.targets, [b.rows, L], 'int32');
    const both = model.tokenLogProbsAndEntropies(ids, mask, targets, { temperature });
    const cut = (x: tf.Tensor2D) =>
      tf.slice(x, [0, b.promptWidth - 1], [b.rows, b.width]) as tf.Tensor2D;
    return [cut(both.logprobs), cut(both.entropies)];
  });
  return { logprobs, entropies };
}

/**
 * Entropy of the next-token distribution at each completion token, [rows × width] on the
 * host (no gradient), aligned like {@link completionLogprobs}; for `top_entropy_quantile`.
 */
export function completionEntropiesHost(
  model: CausalLM,
  b: PolicyBatch,
  temperature = 1,
): Float32Array {
  const L = b.promptWidth + b.width;
  const t = tf.tidy(() => {
    const ids = tf.tensor2d(b.ids, [b.rows, L], 'int32');
    const mask = tf.tensor2d(b.attention, [b.rows, L], 'int32');
    const h = model.tokenEntropies(ids, mask, { temperature });
    return tf.slice(h, [0, b.promptWidth - 1], [b.rows, b.width]);
  });
  try {
    return Float32Array.from(t.dataSync() as Float32Array);
  } finally {
    t.dispose();
  }
}

/** {@link completionLogprobs} read back to the host (no gradient), for reference / old-policy log-probs. */
export function completionLogprobsHost(
  model: CausalLM,
  b: PolicyBatch,
  temperature = 1,
): Float32Array {
  const t = completionLogprobs(model, b, temperature);
  try {
    return Float32Array.from(t.dataSync() as Float32Array);
  } finally {
    t.dispose();
  }
}
