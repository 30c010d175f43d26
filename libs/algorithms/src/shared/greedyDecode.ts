import * as tf from '@tensorflow/tfjs-core';
import { generateStep, prefill, type CausalLM } from '@rxrl/model';

/** Options of {@link greedyDecode}. */
export interface GreedyDecodeOptions {
  /** most tokens generated per prompt */
  maxNewTokens: number;
  /** generation of a row stops after this token (not included in the output) */
  eosTokenId: number | null;
  /** left-padding id */
  padTokenId: number;
  /** prompts decoded together */
  batchSize?: number;
}

/**
 * Greedy (argmax) decoding with the model's KV cache, prompts left-padded and
 * batched. Returns each prompt's generated ids without the EOS. Used for exact-match
 * validation accuracy; sampling engines live in @rxrl/rollout.
 */
export function greedyDecode(
  model: CausalLM,
  prompts: readonly (readonly number[])[],
  options: GreedyDecodeOptions,
): number[][] {
  const out: number[][] = [];
  const bs = options.batchSize ?? 64;
  for (let start = 0; start < prompts.length; start += bs) {
    out.push(...decodeChunk(model, prompts.slice(start, start + bs), options));
  }
  return out;
}

function decodeChunk(
  model: CausalLM,
  prompts: readonly (readonly number[])[],
  o: GreedyDecodeOptions,
): number[][] {
  const b = prompts.length;
  const len = Math.max(...prompts.map((p) => p.length));
  const ids = new Int32Array(b * len).fill(o.padTokenId);
  const mask = new Int32Array(b * len);
  prompts.forEach((p, i) => {
    const off = i * len + (len - p.length);
    ids.set(p, off);
    mask.fill(1, off, off + p.length);
  });
  const idsT = tf.tensor2d(ids, [b, len], 'int32');
  const maskT = tf.tensor2d(mask, [b, len], 'int32');
  const { cache, logits } = prefill(model, idsT, maskT);
  tf.dispose([idsT, maskT]);
  const outs: number[][] = prompts.map(() => []);
  const done = new Array<boolean>(b).fill(false);
  let step: tf.Tensor2D = logits;
  try {
    for (let t = 0; t < o.maxNewTokens; t++) {
      const argmax = tf.argMax(step, 1);
      const tokens = Array.from(argmax.dataSync());
      tf.dispose([argmax, step]);
      tokens.forEach((id, i) => {
        if (done[i]) return;
        if (id === o.eosTokenId) done[i] = true;
        else outs[i]!.push(id);
      });
      if (done.every(Boolean) || t === o.maxNewTokens - 1) {
        step = tf.zeros([1, 1]);
        break;
      }
      step = generateStep(model, cache, tokens);
    }
  } finally {
    step.dispose();
    cache.dispose();
  }
  return outs;
}
