import type { ModelConfig } from '@rxrl/model';

/**
 * Parameters that take part in matrix products, per token: every projection
 * weight plus the output head (tied or not). Embedding lookups, norms and
 * biases are gathers and elementwise work, not FLOPs that a matMul peak bounds.
 *
 *   per layer: d·(Hq·Dh) [q] + 2·d·(Hkv·Dh) [k, v] + (Hq·Dh)·d [o] + MLP
 *   MLP: SwiGLU 3·d·I (gate, up, down), GELU 2·d·I (fc, proj)
 *   head: d·V
 */
export function matmulParams(cfg: ModelConfig): number {
  const d = cfg.hiddenSize;
  const qDim = cfg.numHeads * cfg.headDim;
  const kvDim = cfg.numKvHeads * cfg.headDim;
  const mlp = (cfg.activation === 'silu' ? 3 : 2) * d * cfg.intermediateSize;
  const perLayer = d * qDim + 2 * d * kvDim + qDim * d + mlp;
  return cfg.numLayers * perLayer + d * cfg.vocabSize;
}

/**
 * Forward FLOPs of one pass over `batch × seq` tokens, counting a multiply-add
 * as 2 FLOPs:
 *
 *   2·N·B·T                      every matMul weight touches every token once
 * + L · 4·B·Hq·T²·Dh             attention scores Q·Kᵀ and the weighted sum A·V
 *
 * The attention term counts the full T×T square because the causal mask is
 * applied by adding −1e9 to a dense score matrix (nothing skipped).
 */
export function forwardFlops(cfg: ModelConfig, batch: number, seq: number): number {
  const attention = cfg.numLayers * 4 * batch * cfg.numHeads * seq * seq * cfg.headDim;
  return 2 * matmulParams(cfg) * batch * seq + attention;
}

/**
 * Training-step FLOPs (forward + backward): 3× the forward, since the backward
 * of every product computes two products of the same size (input and weight
 * gradients). This is the usual 6·N·tokens + 12·L·B·Hq·T²·Dh. The optimizer's
 * elementwise update is not counted.
 */
export function trainStepFlops(cfg: ModelConfig, batch: number, seq: number): number {
  return 3 * forwardFlops(cfg, batch, seq);
}
