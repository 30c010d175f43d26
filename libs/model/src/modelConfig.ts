import { z } from 'zod';
import { ModelDirectoryError } from './errors';

/**
 * One internal description of every supported decoder-only architecture.
 * Llama, Qwen2, Qwen3 and GPT-2 differ only in the flags below; `causalLM.ts`
 * reads the flags, never the architecture name, except to pick weight names.
 */
export const ARCHITECTURES = ['llama', 'qwen2', 'qwen3', 'gpt2'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

/** Llama-3 style frequency-dependent RoPE scaling, as in HF `rope_scaling` with rope_type "llama3". */
export const Llama3RopeScalingSchema = z.object({
  rope_type: z.literal('llama3'),
  factor: z.number().positive(),
  low_freq_factor: z.number().positive(),
  high_freq_factor: z.number().positive(),
  original_max_position_embeddings: z.number().int().positive(),
});
export type Llama3RopeScaling = z.infer<typeof Llama3RopeScalingSchema>;

export const ModelConfigSchema = z.object({
  /** HF `model_type`; selects weight names only. */
  arch: z.enum(ARCHITECTURES),
  vocabSize: z.number().int().positive(),
  hiddenSize: z.number().int().positive(),
  /** Width of the MLP's hidden layer. */
  intermediateSize: z.number().int().positive(),
  numLayers: z.number().int().positive(),
  numHeads: z.number().int().positive(),
  /** Grouped-query attention: number of key/value heads (divides numHeads). */
  numKvHeads: z.number().int().positive(),
  headDim: z.number().int().positive(),
  maxPositionEmbeddings: z.number().int().positive(),
  /** 'rms' (Llama family) or 'layer' (GPT-2, with bias). */
  normType: z.enum(['rms', 'layer']),
  normEps: z.number().positive(),
  /** 'silu' uses a gated SwiGLU MLP (gate/up/down); 'gelu_tanh' a plain two-layer MLP (GPT-2). */
  activation: z.enum(['silu', 'gelu_tanh']),
  /** Bias on the q, k, v projections (Qwen2, GPT-2, Llama with attention_bias). */
  qkvBias: z.boolean(),
  /** Bias on the attention output projection (GPT-2, Llama with attention_bias). */
  outBias: z.boolean(),
  /** Bias on the MLP projections (GPT-2, Llama with mlp_bias). */
  mlpBias: z.boolean(),
  /** RMSNorm over head_dim on q and k before RoPE (Qwen3). */
  qkNorm: z.boolean(),
  /** Learned absolute position embeddings instead of RoPE (GPT-2). */
  learnedPositions: z.boolean(),
  /** lm_head shares the token embedding matrix. */
  tieWordEmbeddings: z.boolean(),
  ropeTheta: z.number().positive(),
  ropeScaling: Llama3RopeScalingSchema.nullable(),
  /** Std of the normal weight init. */
  initializerRange: z.number().positive(),
  bosTokenId: z.number().int().nullable(),
  eosTokenId: z.union([z.number().int(), z.array(z.number().int())]).nullable(),
  padTokenId: z.number().int().nullable(),
});
export type ModelConfig = z.infer<typeof ModelConfigSchema>;

// HF config.json shapes. Loose objects: real configs carry many keys we do not need.
const tokenIds = {
  bos_token_id: z.number().int().nullable().optional(),
  eos_token_id: z
    .union([z.number().int(), z.array(z.number().int())])
    .nullable()
    .optional(),
  pad_token_id: z.number().int().nullable().optional(),
};

const LlamaFamilyHfSchema = z.looseObject({
  model_type: z.enum(['llama', 'qwen2', 'qwen3']),
  vocab_size: z.number().int().positive(),
  hidden_size: z.number().int().positive(),
  intermediate_size: z.number().int().positive(),
  num_hidden_layers: z.number().int().positive(),
  num_attention_heads: z.number().int().positive(),
  num_key_value_heads: z.number().int().positive().nullable().optional(),
  head_dim: z.number().int().positive().nullable().optional(),
  hidden_act: z.string().default('silu'),
  max_position_embeddings: z.number().int().positive().default(2048),
  initializer_range: z.number().positive().default(0.02),
  rms_norm_eps: z.number().positive().default(1e-6),
  tie_word_embeddings: z.boolean().optional(),
  rope_theta: z.number().positive().default(10000),
  rope_scaling: z.looseObject({}).nullable().optional(),
  attention_bias: z.boolean().optional(),
  mlp_bias: z.boolean().optional(),
  ...tokenIds,
});

const Gpt2HfSchema = z.looseObject({
  model_type: z.literal('gpt2'),
  vocab_size: z.number().int().positive(),
  n_embd: z.number().int().positive(),
  n_layer: z.number().int().positive(),
  n_head: z.number().int().positive(),
  n_inner: z.number().int().positive().nullable().optional(),
  n_positions: z.number().int().positive().default(1024),
  activation_function: z.string().default('gelu_new'),
  layer_norm_epsilon: z.number().positive().default(1e-5),
  initializer_range: z.number().positive().default(0.02),
  tie_word_embeddings: z.boolean().optional(),
  ...tokenIds,
});

// Errors name config.json and the key; loadPretrained puts the file's full path in their place.
function fail(key: string, got: unknown, expected: string): never {
  throw new ModelDirectoryError(
    `config.json: ${key} = ${JSON.stringify(got)}; expected ${expected}`,
    { source: 'config.json', field: key },
  );
}

function parseOrThrow<T extends z.ZodType>(schema: T, raw: unknown): z.infer<T> {
  const r = schema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const key = issue.path.join('.') || '(root)';
    throw new ModelDirectoryError(`config.json: ${key}: ${issue.message}`, {
      source: 'config.json',
      field: key,
    });
  }
  return r.data;
}

function parseRopeScaling(
  raw: Record<string, unknown> | null | undefined,
): Llama3RopeScaling | null {
  if (raw == null) return null;
  const type = raw['rope_type'] ?? raw['type'];
  if (type === 'default') return null;
  if (type !== 'llama3')
    fail('rope_scaling.rope_type', type, '"llama3" (the only scaling implemented) or null');
  return parseOrThrow(Llama3RopeScalingSchema, { ...raw, rope_type: 'llama3' });
}

/**
 * Turn a Hugging Face `config.json` object (model_type llama, qwen2, qwen3 or
 * gpt2) into a validated {@link ModelConfig}. Throws a ModelDirectoryError (a
 * RxrlConfigError) naming the key that is missing or unsupported.
 */
export function fromHfConfig(raw: unknown): ModelConfig {
  if (typeof raw !== 'object' || raw === null) fail('(root)', raw, 'a JSON object');
  const modelType = (raw as Record<string, unknown>)['model_type'];
  let cfg: ModelConfig;
  if (modelType === 'gpt2') {
    const h = parseOrThrow(Gpt2HfSchema, raw);
    if (h.activation_function !== 'gelu_new' && h.activation_function !== 'gelu_pytorch_tanh') {
      fail('activation_function', h.activation_function, '"gelu_new" (tanh-approximated GELU)');
    }
    if (h.tie_word_embeddings === false) fail('tie_word_embeddings', false, 'true for gpt2');
    // GPT-2 attention variants we do not implement: refuse rather than compute something else
    const g = raw as Record<string, unknown>;
    if (g['scale_attn_weights'] === false)
      fail('scale_attn_weights', false, 'true (attention scaled by 1/sqrt(head_dim))');
    if (g['scale_attn_by_inverse_layer_idx'] === true)
      fail('scale_attn_by_inverse_layer_idx', true, 'false');
    cfg = {
      arch: 'gpt2',
      vocabSize: h.vocab_size,
      hiddenSize: h.n_embd,
      intermediateSize: h.n_inner ?? 4 * h.n_embd,
      numLayers: h.n_layer,
      numHeads: h.n_head,
      numKvHeads: h.n_head,
      headDim: h.n_embd / h.n_head,
      maxPositionEmbeddings: h.n_positions,
      normType: 'layer',
      normEps: h.layer_norm_epsilon,
      activation: 'gelu_tanh',
      qkvBias: true,
      outBias: true,
      mlpBias: true,
      qkNorm: false,
      learnedPositions: true,
      tieWordEmbeddings: true,
      ropeTheta: 10000,
      ropeScaling: null,
      initializerRange: h.initializer_range,
      bosTokenId: h.bos_token_id ?? null,
      eosTokenId: h.eos_token_id ?? null,
      padTokenId: h.pad_token_id ?? null,
    };
    if (!Number.isInteger(cfg.headDim))
      fail('n_embd', h.n_embd, `a multiple of n_head (${h.n_head})`);
  } else if (modelType === 'llama' || modelType === 'qwen2' || modelType === 'qwen3') {
    const h = parseOrThrow(LlamaFamilyHfSchema, raw);
    if (h.hidden_act !== 'silu') fail('hidden_act', h.hidden_act, '"silu"');
    // Qwen sliding-window attention is not implemented; HF configs usually ship it disabled
    if ((raw as Record<string, unknown>)['use_sliding_window'] === true)
      fail('use_sliding_window', true, 'false');
    const numHeads = h.num_attention_heads;
    const headDim = h.head_dim ?? h.hidden_size / numHeads;
    if (!Number.isInteger(headDim))
      fail(
        'hidden_size',
        h.hidden_size,
        `a multiple of num_attention_heads (${numHeads}) or an explicit head_dim`,
      );
    const attnBias = h.attention_bias ?? false;
    cfg = {
      arch: modelType,
      vocabSize: h.vocab_size,
      hiddenSize: h.hidden_size,
      intermediateSize: h.intermediate_size,
      numLayers: h.num_hidden_layers,
      numHeads,
      numKvHeads: h.num_key_value_heads ?? numHeads,
      headDim,
      maxPositionEmbeddings: h.max_position_embeddings,
      normType: 'rms',
      normEps: h.rms_norm_eps,
      activation: 'silu',
      // Qwen2 always has q/k/v biases (and no o bias); Llama and Qwen3 follow attention_bias.
      qkvBias: modelType === 'qwen2' ? true : attnBias,
      outBias: modelType === 'qwen2' ? false : attnBias,
      mlpBias: modelType === 'llama' ? (h.mlp_bias ?? false) : false,
      qkNorm: modelType === 'qwen3',
      learnedPositions: false,
      // LlamaConfig, Qwen2Config and Qwen3Config all default to untied.
      tieWordEmbeddings: h.tie_word_embeddings ?? false,
      ropeTheta: h.rope_theta,
      ropeScaling: parseRopeScaling(h.rope_scaling as Record<string, unknown> | null | undefined),
      initializerRange: h.initializer_range,
      bosTokenId: h.bos_token_id ?? null,
      eosTokenId: h.eos_token_id ?? null,
      padTokenId: h.pad_token_id ?? null,
    };
  } else {
    fail('model_type', modelType, `one of ${ARCHITECTURES.join(', ')}`);
  }
  if (cfg.numHeads % cfg.numKvHeads !== 0) {
    fail(
      'num_key_value_heads',
      cfg.numKvHeads,
      `a divisor of num_attention_heads (${cfg.numHeads})`,
    );
  }
  return ModelConfigSchema.parse(cfg);
}

/** The Hugging Face `config.json` object for `cfg` (what `savePretrained` writes). */
export function toHfConfig(cfg: ModelConfig): Record<string, unknown> {
  const ids = {
    bos_token_id: cfg.bosTokenId,
    eos_token_id: cfg.eosTokenId,
    pad_token_id: cfg.padTokenId,
  };
  if (cfg.arch === 'gpt2') {
    return {
      architectures: ['GPT2LMHeadModel'],
      model_type: 'gpt2',
      vocab_size: cfg.vocabSize,
      n_embd: cfg.hiddenSize,
      n_layer: cfg.numLayers,
      n_head: cfg.numHeads,
      n_inner: cfg.intermediateSize,
      n_positions: cfg.maxPositionEmbeddings,
      activation_function: 'gelu_new',
      layer_norm_epsilon: cfg.normEps,
      initializer_range: cfg.initializerRange,
      tie_word_embeddings: true,
      torch_dtype: 'float32',
      ...ids,
    };
  }
  const className = {
    llama: 'LlamaForCausalLM',
    qwen2: 'Qwen2ForCausalLM',
    qwen3: 'Qwen3ForCausalLM',
  }[cfg.arch];
  const out: Record<string, unknown> = {
    architectures: [className],
    model_type: cfg.arch,
    vocab_size: cfg.vocabSize,
    hidden_size: cfg.hiddenSize,
    intermediate_size: cfg.intermediateSize,
    num_hidden_layers: cfg.numLayers,
    num_attention_heads: cfg.numHeads,
    num_key_value_heads: cfg.numKvHeads,
    head_dim: cfg.headDim,
    hidden_act: 'silu',
    max_position_embeddings: cfg.maxPositionEmbeddings,
    initializer_range: cfg.initializerRange,
    rms_norm_eps: cfg.normEps,
    tie_word_embeddings: cfg.tieWordEmbeddings,
    rope_theta: cfg.ropeTheta,
    rope_scaling: cfg.ropeScaling,
    torch_dtype: 'float32',
    ...ids,
  };
  if (cfg.arch === 'llama') {
    out['attention_bias'] = cfg.qkvBias;
    out['mlp_bias'] = cfg.mlpBias;
  } else if (cfg.arch === 'qwen3') {
    out['attention_bias'] = cfg.qkvBias;
  }
  return out;
}

export const PRESETS = ['tiny', 'small'] as const;
export type Preset = (typeof PRESETS)[number];

/**
 * Random-init sizes for tests and benchmarks, as a HF config.json object.
 * `tiny`: d=64, 2 layers, 4 heads (2 kv heads); `small`: d=256, 4 layers, 8 heads (4 kv heads).
 * The vocabulary size comes from the tokenizer the model will be used with.
 */
export function presetHfConfig(
  arch: Architecture,
  preset: Preset,
  vocabSize: number,
): Record<string, unknown> {
  if (!Number.isInteger(vocabSize) || vocabSize <= 0)
    fail('vocab_size', vocabSize, 'a positive integer');
  const size =
    preset === 'tiny'
      ? { d: 64, layers: 2, heads: 4, kv: 2, inter: 128, ctx: 512 }
      : { d: 256, layers: 4, heads: 8, kv: 4, inter: 768, ctx: 1024 };
  if (arch === 'gpt2') {
    return toHfConfig(
      fromHfConfig({
        model_type: 'gpt2',
        vocab_size: vocabSize,
        n_embd: size.d,
        n_layer: size.layers,
        n_head: size.heads,
        n_inner: 4 * size.d,
        n_positions: size.ctx,
      }),
    );
  }
  return toHfConfig(
    fromHfConfig({
      model_type: arch,
      vocab_size: vocabSize,
      hidden_size: size.d,
      intermediate_size: size.inter,
      num_hidden_layers: size.layers,
      num_attention_heads: size.heads,
      num_key_value_heads: size.kv,
      max_position_embeddings: size.ctx,
      rope_theta: arch === 'llama' ? 500000 : 1000000,
      rms_norm_eps: 1e-6,
      tie_word_embeddings: arch !== 'llama',
    }),
  );
}

/** {@link presetHfConfig} parsed into a ModelConfig. */
export function presetConfig(arch: Architecture, preset: Preset, vocabSize: number): ModelConfig {
  return fromHfConfig(presetHfConfig(arch, preset, vocabSize));
}
