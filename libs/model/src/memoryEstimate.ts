import * as os from 'node:os';
import { RxrlConfigError, logitsChunkRows } from '@rxrl/core';
import { hfWeightLayout, linearModules } from './causalLM';
import { LoraConfigSchema, resolveTargetModules, type LoraConfigInput } from './lora/loraConfig';
import type { ModelConfig } from './modelConfig';

/**
 * What a run will hold in memory, estimated from the model's config.json and
 * the run's shapes before any weight is loaded, so a run that cannot fit
 * stops with a message instead of dying mid-step (or, on wasm, with an opaque
 * out-of-memory abort).
 */

/** The shapes of a run that decide its memory (see {@link estimateRunMemory}). */
export interface RunMemoryConfig {
  /** tfjs backend name: `wasm` packs a second copy of every weight matrix (XNNPACK) */
  backend: string;
  /** training: sequences per forward/backward pass and their length in tokens; null: inference only */
  train: {
    microBatch: number;
    seqLen: number;
    /** parameters with gradients and AdamW state; default all (LoRA passes its adapters') */
    trainableParams?: number;
    /** recompute each decoder layer in the backward pass (`policy.activation_checkpointing`) */
    activationCheckpointing?: boolean;
    /** rows per logits chunk (`policy.logprob_chunk_size`); null: sized from the vocabulary */
    logprobChunkRows?: number | null;
  } | null;
  /** a frozen reference copy of the weights (DPO unless reference-free, GRPO with a KL penalty; not with LoRA, whose reference is the base with adapters off) */
  referenceModel?: boolean;
  /** parameters of an attached adapter (LoRA's A and B), held besides the base weights */
  adapterParams?: number;
  /** generation: rows decoded together and prompt + new tokens per row; null: none */
  generation?: { batch: number; maxLen: number } | null;
}

/** One line of an estimate. */
export interface MemoryItem {
  name: string;
  bytes: number;
  /** how it was counted */
  detail: string;
}

/** The result of {@link estimateRunMemory}. */
export interface RunMemoryEstimate {
  parameters: number;
  items: MemoryItem[];
  totalBytes: number;
}

const F32 = 4;

/** Parameter count of `cfg`'s model in closed form (matrices: the 2-D weights). */
export function countParameters(cfg: ModelConfig): { total: number; matrices: number } {
  const d = cfg.hiddenSize;
  const inter = cfg.intermediateSize;
  const embed = cfg.vocabSize * d;
  if (cfg.arch === 'gpt2') {
    const layerMat = d * 3 * d + d * d + 2 * d * inter;
    const layerVec = 2 * d + 3 * d + d + inter + d + 2 * d;
    const positions = cfg.maxPositionEmbeddings * d;
    const matrices = embed + positions + cfg.numLayers * layerMat;
    return { total: matrices + cfg.numLayers * layerVec + 2 * d, matrices };
  }
  const q = cfg.numHeads * cfg.headDim;
  const kv = cfg.numKvHeads * cfg.headDim;
  const layerMat = d * (q + 2 * kv) + q * d + 3 * d * inter;
  const layerVec =
    2 * d +
    (cfg.qkvBias ? q + 2 * kv : 0) +
    (cfg.outBias ? d : 0) +
    (cfg.qkNorm ? 2 * cfg.headDim : 0) +
    (cfg.mlpBias ? 2 * inter + d : 0);
  const head = cfg.tieWordEmbeddings ? 0 : d * cfg.vocabSize;
  const matrices = embed + head + cfg.numLayers * layerMat;
  return { total: matrices + cfg.numLayers * layerVec + d, matrices };
}

/**
 * Parameters of a LoRA adapter on `cfg`'s model in closed form: `r·(in + out)`
 * for each module `target_modules` selects (A `[in, r]`, B `[r, out]`), and the
 * trainable ones — those plus the biases that train under `bias: all` (every
 * bias) or `lora_only` (the adapted modules'). A `target_modules` matching
 * nothing is the config error `LoraAdapter.create` gives.
 */
export function loraParameterCount(
  cfg: ModelConfig,
  lora: LoraConfigInput,
): { adapter: number; trainable: number } {
  const config = LoraConfigSchema.parse(lora);
  const modules = resolveTargetModules(config, cfg.arch, linearModules(cfg));
  const adapter = modules.reduce((n, m) => n + config.r * (m.inFeatures + m.outFeatures), 0);
  const adapted = new Set(modules.map((m) => `${m.name}.bias`));
  let biases = 0;
  if (config.bias !== 'none')
    for (const w of hfWeightLayout(cfg))
      if (w.name.endsWith('.bias') && (config.bias === 'all' || adapted.has(w.name)))
        biases += w.shape.reduce((a, b) => a * b, 1);
  return { adapter, trainable: adapter + biases };
}

/**
 * float32 values one decoder layer holds per token through a training step.
 * Counted: the residual and normed inputs, q/k/v before and after RoPE, the
 * attention output and projections, the MLP's inputs and intermediates, and
 * two `[heads, seqLen]` attention rows. TensorFlow.js keeps every
 * intermediate of the forward pass until the backward pass ends (a tidy
 * scope frees nothing earlier), and the backward makes as many again, so the
 * count is scaled by {@link TAPE_FACTOR}, measured on the llama `small`
 * preset (peak bytes of a step / this count ≈ 5.9).
 */
function layerFloatsPerToken(cfg: ModelConfig, seqLen: number): number {
  const d = cfg.hiddenSize;
  const q = cfg.numHeads * cfg.headDim;
  const kv = cfg.numKvHeads * cfg.headDim;
  return 7 * d + 3 * q + 3 * kv + 5 * cfg.intermediateSize + 2 * cfg.numHeads * seqLen;
}

/**
 * Measured ratio of a training step's per-layer peak to {@link layerFloatsPerToken}
 * for the one layer a checkpointed step recomputes (its forward and backward
 * intermediates at once; the llama `small` preset).
 */
const TAPE_FACTOR = 6;

/**
 * The same ratio per layer when every layer keeps its activations: what the
 * tape holds between the forward and the backward pass. Measured on the
 * Qwen2.5-0.5B layout, 1 × 512 tokens: on `native`, whose fused SwiGLU, RMS
 * norm and attention softmax save only their inputs, 11.85 GiB peak RSS, of
 * which 7.36 GiB weights, gradients and AdamW moments, leaves ≈ 1.9 × the
 * count per layer; op by op (the other backends; native before those
 * kernels) 14.87 GiB, ≈ 3.0, rounded up to 3.2.
 */
function keptTapeFactor(backend: string): number {
  return backend === 'native' ? 1.9 : 3.2;
}

const GiB = 2 ** 30;

/** `1.23 GiB` / `456.7 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes >= GiB) return `${(bytes / GiB).toFixed(2)} GiB`;
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/**
 * Estimate the memory a run needs: weights (4 B/param, plus XNNPACK's packed
 * copy of every matrix on wasm), a frozen reference copy, gradients (4 B per
 * trainable parameter, plus 4 B for the micro-batch gradient being added and
 * clipped), AdamW's two moments (8 B), training activations of one
 * micro-batch (every layer's, or with activation checkpointing each layer's
 * input plus one layer recomputed), the logits chunks of the LM head
 * (six `[rows, V]` buffers, measured), and the KV cache and last-position
 * logits of generation. An estimate: fixed runtime overhead is not counted.
 */
export function estimateRunMemory(cfg: ModelConfig, run: RunMemoryConfig): RunMemoryEstimate {
  const { total: params, matrices } = countParameters(cfg);
  const items: MemoryItem[] = [];
  const add = (name: string, bytes: number, detail: string) => {
    if (bytes > 0) items.push({ name, bytes, detail });
  };
  add('weights', params * F32, `${params.toLocaleString('en-US')} parameters × 4 B`);
  const adapterParams = run.adapterParams ?? 0;
  add(
    'adapter weights',
    adapterParams * F32,
    `${adapterParams.toLocaleString('en-US')} LoRA parameters × 4 B`,
  );
  if (run.backend === 'wasm')
    add('packed weights', matrices * F32, 'wasm XNNPACK keeps a packed copy of each weight matrix');
  if (run.referenceModel === true) add('reference model', params * F32, 'frozen copy, 4 B/param');
  const t = run.train;
  if (t !== null) {
    const trainable = t.trainableParams ?? params;
    add('gradients', trainable * 2 * F32, '4 B/trainable param, plus 4 B while accumulating');
    add('AdamW state', trainable * 2 * F32, 'm and v, 8 B/trainable param');
    const tokens = t.microBatch * t.seqLen;
    const layerFloats = layerFloatsPerToken(cfg, t.seqLen) * tokens * F32;
    const checkpointed = t.activationCheckpointing === true;
    add(
      'activations',
      checkpointed
        ? cfg.numLayers * tokens * cfg.hiddenSize * F32 + TAPE_FACTOR * layerFloats
        : cfg.numLayers * keptTapeFactor(run.backend) * layerFloats,
      `micro-batch ${t.microBatch} × ${t.seqLen} tokens, ${cfg.numLayers} layers${checkpointed ? ' (checkpointed: layer inputs + one layer recomputed)' : ''}`,
    );
    const rows = Math.min(tokens, t.logprobChunkRows ?? logitsChunkRows(cfg.vocabSize));
    add('logits chunks', 6 * rows * cfg.vocabSize * F32, `6 × [${rows}, ${cfg.vocabSize}] float32`);
  }
  const g = run.generation;
  if (g != null) {
    const kv = cfg.numKvHeads * cfg.headDim;
    add(
      'KV cache',
      2 * cfg.numLayers * g.batch * g.maxLen * kv * F32,
      `${g.batch} rows × ${g.maxLen} tokens × ${cfg.numLayers} layers × 2 × ${kv}`,
    );
    add(
      'generation activations',
      g.batch * g.maxLen * (layerFloatsPerToken(cfg, g.maxLen) + cfg.hiddenSize) * F32 +
        2 * g.batch * cfg.vocabSize * F32,
      'one layer of the prefill and the [rows, V] next-token logits',
    );
  }
  return { parameters: params, items, totalBytes: items.reduce((s, i) => s + i.bytes, 0) };
}

/** What a backend on this machine can hold. */
export interface MemoryLimit {
  bytes: number;
  description: string;
}

/**
 * The memory limit of `backend` here: 4 GiB for wasm (a 32-bit heap), else
 * physical RAM (`os.totalmem()`). `RXRL_MEMORY_LIMIT` (bytes, or a number with
 * `MiB` / `GiB`) replaces it; `off` disables the check.
 */
export function memoryLimit(
  backend: string,
  env: Record<string, string | undefined> = process.env,
): MemoryLimit | null {
  const raw = env['RXRL_MEMORY_LIMIT']?.trim();
  if (raw !== undefined && raw !== '') {
    if (raw.toLowerCase() === 'off') return null;
    const m = /^(\d+(?:\.\d+)?)\s*(b|mib|gib)?$/i.exec(raw);
    if (m === null)
      throw new RxrlConfigError(
        `RXRL_MEMORY_LIMIT=${raw}: expected bytes, a number with MiB or GiB, or off`,
      );
    const unit = (m[2] ?? 'b').toLowerCase();
    const bytes = Number(m[1]) * (unit === 'gib' ? GiB : unit === 'mib' ? 2 ** 20 : 1);
    return { bytes, description: `RXRL_MEMORY_LIMIT (${formatBytes(bytes)})` };
  }
  if (backend === 'wasm') return { bytes: 4 * GiB, description: 'the wasm heap (4 GiB, 32-bit)' };
  return {
    bytes: os.totalmem(),
    description: `physical RAM of this machine for the ${backend} backend (${formatBytes(os.totalmem())}; ${formatBytes(os.freemem())} available now)`,
  };
}

/**
 * Share of the memory limit a run may plan to fill when `auto` decides to keep
 * activations: the estimate counts no fixed runtime overhead (node, TF.js,
 * loader buffers) and garbage the JS heap has not collected yet.
 */
export const AUTO_CHECKPOINTING_HEADROOM = 0.8;

/**
 * `policy.activation_checkpointing: auto`: keep every layer's activations
 * (no recompute: a training step does one forward less per layer) when the
 * run's estimate with them fits {@link AUTO_CHECKPOINTING_HEADROOM} of
 * `limit`, else recompute them. No limit (the check is off) keeps them.
 * Returns the choice and a line saying why.
 */
export function chooseActivationCheckpointing(
  cfg: ModelConfig,
  run: RunMemoryConfig,
  limit: MemoryLimit | null,
): { checkpointing: boolean; reason: string } {
  if (run.train === null) return { checkpointing: false, reason: 'no training' };
  const keep = estimateRunMemory(cfg, {
    ...run,
    train: { ...run.train, activationCheckpointing: false },
  }).totalBytes;
  if (limit === null)
    return {
      checkpointing: false,
      reason: `auto: keeping activations (${formatBytes(keep)}; memory check off)`,
    };
  const budget = AUTO_CHECKPOINTING_HEADROOM * limit.bytes;
  const checkpointing = keep > budget;
  return {
    checkpointing,
    reason: `auto: ${checkpointing ? 'recomputing' : 'keeping'} activations (keeping them needs about ${formatBytes(keep)}, ${checkpointing ? 'more' : 'no more'} than ${Math.round(AUTO_CHECKPOINTING_HEADROOM * 100)}% of ${formatBytes(limit.bytes)})`,
  };
}

/**
 * Throw a {@link RxrlConfigError} (exit 2) naming the estimate, the limit and
 * what to change when `estimate` does not fit `limit`; return one line to print when it does.
 */
export function checkRunMemory(
  what: string,
  estimate: RunMemoryEstimate,
  limit: MemoryLimit | null,
  run: RunMemoryConfig,
): string {
  const summary = `${what} needs about ${formatBytes(estimate.totalBytes)}`;
  if (limit === null) return `rxrl: memory: ${summary} (check off: RXRL_MEMORY_LIMIT=off)`;
  if (estimate.totalBytes <= limit.bytes)
    return `rxrl: memory: ${summary} of ${formatBytes(limit.bytes)} (${limit.description})`;
  const lines = estimate.items.map(
    (i) => `  ${i.name.padEnd(24)} ${formatBytes(i.bytes).padStart(11)}  ${i.detail}`,
  );
  const hints: string[] = [];
  if (run.train !== null) {
    hints.push('a smaller policy.train_micro_batch_size or policy.max_total_sequence_length');
    if (run.train.activationCheckpointing !== true)
      hints.push('policy.activation_checkpointing=true');
    if (run.train.trainableParams === undefined)
      hints.push('LoRA (train adapters only: no full gradients or AdamW state)');
  }
  if (run.generation != null) hints.push('a smaller generation batch or max_new_tokens');
  if (run.backend === 'wasm')
    hints.push('--backend native, cpu or tensorflow (no 4 GiB ceiling, no packed weight copies)');
  throw new RxrlConfigError(
    `${summary}, more than ${formatBytes(limit.bytes)}: ${limit.description}.\n` +
      `${lines.join('\n')}\n  ${'total'.padEnd(24)} ${formatBytes(estimate.totalBytes).padStart(11)}\n` +
      `Try: ${hints.join('; ')}. (RXRL_MEMORY_LIMIT=off skips this check.)`,
  );
}
