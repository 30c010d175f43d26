import * as tf from '@tensorflow/tfjs-core';
import { CausalLM, presetConfig, type ModelConfig, type Preset } from '@rxrl/model';

/**
 * Vocabulary of every benchmark model (ours and PyTorch's): a real tokenizer's
 * 150k ids would make the `small` preset all output head; 8192 keeps the head
 * at about a third of the matMul FLOPs, as in a small production model.
 */
export const BENCH_VOCAB = 8192;

/** Batch rows × sequence length of the training and log-prob cases. */
export const BENCH_SHAPE = { batch: 8, seq: 128 } as const;
export const QUICK_SHAPE = { batch: 4, seq: 64 } as const;

/** The llama preset every compute case uses, with the bench vocabulary. */
export function benchConfig(preset: Preset): ModelConfig {
  return presetConfig('llama', preset, BENCH_VOCAB);
}

/** A seeded random llama model of `preset`. */
export function benchModel(preset: Preset): CausalLM {
  return CausalLM.create(benchConfig(preset), { seed: 0 });
}

/** Deterministic token ids `[batch, seq]` below `vocab` (a cheap LCG, no tensors until the end). */
export function tokenBatch(batch: number, seq: number, vocab: number, salt = 0): tf.Tensor2D {
  const ids = new Int32Array(batch * seq);
  let x = 12345 + salt;
  for (let i = 0; i < ids.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    ids[i] = (x >>> 8) % vocab;
  }
  return tf.tensor2d(ids, [batch, seq], 'int32');
}
