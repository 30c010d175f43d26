import type { ModelConfig, RunMemoryConfig } from '@rxrl/model';

/**
 * Estimate the memory of generating with a model of config `cfg` (weights,
 * KV cache of `batch` rows of `maxLen` tokens, prefill activations and
 * next-token logits) before its weights load; returns the line to print or
 * throws a configuration error (exit 2) naming the estimate, the limit and what to change.
 */
export async function checkInferenceMemory(
  what: string,
  cfg: ModelConfig,
  backend: string,
  generation: { batch: number; maxLen: number },
  env: Record<string, string | undefined> = process.env,
): Promise<string> {
  // loaded here, not at the top: the other commands should not pay for TensorFlow.js
  const { checkRunMemory, estimateRunMemory, memoryLimit } = await import('@rxrl/model');
  const run: RunMemoryConfig = {
    backend,
    train: null,
    generation: {
      batch: generation.batch,
      maxLen: Math.min(generation.maxLen, cfg.maxPositionEmbeddings),
    },
  };
  return checkRunMemory(what, estimateRunMemory(cfg, run), memoryLimit(backend, env), run);
}
