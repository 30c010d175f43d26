/**
 * Estimate the memory of generating with the model directory `dir` (weights,
 * KV cache of `batch` rows of `maxLen` tokens, prefill activations and
 * next-token logits) before its weights load; returns the line to print or
 * throws a configuration error (exit 2) naming the estimate, the limit and what to change.
 */
export async function checkInferenceMemory(
  what: string,
  dir: string,
  backend: string,
  generation: { batch: number; maxLen: number },
  env: Record<string, string | undefined> = process.env,
): Promise<string> {
  const { checkRunMemory, estimateRunMemory, memoryLimit, readModelConfig } =
    await import('@rxrl/model');
  const cfg = await readModelConfig(dir);
  const run = {
    backend,
    train: null,
    generation: {
      batch: generation.batch,
      maxLen: Math.min(generation.maxLen, cfg.maxPositionEmbeddings),
    },
  };
  return checkRunMemory(what, estimateRunMemory(cfg, run), memoryLimit(backend, env), run);
}
