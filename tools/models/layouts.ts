/**
 * The published config.json values of five small open models, for
 * `make-real-layouts.ts`. One row per model; `configJson` turns a row into the
 * config.json its Hugging Face repository ships (same keys, same values), and
 * `generationConfig` gives its generation_config.json. Values are the published
 * ones (facts, transcribed); the parameter counts they imply are checked
 * against the published totals by `make-real-layouts.ts --dry-run` and its test.
 */

export const LAYOUT_NAMES = [
  'qwen2.5-0.5b',
  'qwen3-0.6b',
  'smollm2-135m',
  'smollm2-360m',
  'llama-3.2-1b',
] as const;
export type LayoutName = (typeof LAYOUT_NAMES)[number];

/** Which tokenizer the directory gets (see tokenizers.ts). */
export type TokenizerKind = 'qwen2.5' | 'qwen3' | 'smollm2' | 'llama3';

export interface LayoutRow {
  name: LayoutName;
  /** The Hugging Face repository whose layout this is. */
  repo: string;
  model_type: 'qwen2' | 'qwen3' | 'llama';
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  /** Explicit head_dim (null: the config has none; hidden_size / heads). */
  head_dim: number | null;
  vocab_size: number;
  max_position_embeddings: number;
  rope_theta: number;
  rms_norm_eps: number;
  tie_word_embeddings: boolean;
  initializer_range: number;
  bos_token_id: number;
  eos_token_id: number;
  /** Parameters of the published checkpoint (tied head counted once). */
  parameters: number;
  tokenizer: TokenizerKind;
}

// prettier-ignore
export const LAYOUTS: readonly LayoutRow[] = [
  // name            repo                           type     hidden inter layers heads kv  head_dim vocab   ctx     rope_theta rms_eps tied  init                 bos     eos     parameters     tokenizer
  { name: 'qwen2.5-0.5b', repo: 'Qwen/Qwen2.5-0.5B-Instruct', model_type: 'qwen2', hidden_size: 896,  intermediate_size: 4864, num_hidden_layers: 24, num_attention_heads: 14, num_key_value_heads: 2, head_dim: null, vocab_size: 151936, max_position_embeddings: 32768,  rope_theta: 1000000, rms_norm_eps: 1e-6, tie_word_embeddings: true, initializer_range: 0.02,                 bos_token_id: 151643, eos_token_id: 151645, parameters: 494_032_768,   tokenizer: 'qwen2.5' },
  { name: 'qwen3-0.6b',   repo: 'Qwen/Qwen3-0.6B',            model_type: 'qwen3', hidden_size: 1024, intermediate_size: 3072, num_hidden_layers: 28, num_attention_heads: 16, num_key_value_heads: 8, head_dim: 128,  vocab_size: 151936, max_position_embeddings: 40960,  rope_theta: 1000000, rms_norm_eps: 1e-6, tie_word_embeddings: true, initializer_range: 0.02,                 bos_token_id: 151643, eos_token_id: 151645, parameters: 596_049_920,   tokenizer: 'qwen3' },
  { name: 'smollm2-135m', repo: 'HuggingFaceTB/SmolLM2-135M', model_type: 'llama', hidden_size: 576,  intermediate_size: 1536, num_hidden_layers: 30, num_attention_heads: 9,  num_key_value_heads: 3, head_dim: null, vocab_size: 49152,  max_position_embeddings: 8192,   rope_theta: 100000,  rms_norm_eps: 1e-5, tie_word_embeddings: true, initializer_range: 0.041666666666666664, bos_token_id: 0,      eos_token_id: 0,      parameters: 134_515_008,   tokenizer: 'smollm2' },
  { name: 'smollm2-360m', repo: 'HuggingFaceTB/SmolLM2-360M', model_type: 'llama', hidden_size: 960,  intermediate_size: 2560, num_hidden_layers: 32, num_attention_heads: 15, num_key_value_heads: 5, head_dim: null, vocab_size: 49152,  max_position_embeddings: 8192,   rope_theta: 100000,  rms_norm_eps: 1e-5, tie_word_embeddings: true, initializer_range: 0.02,                 bos_token_id: 0,      eos_token_id: 0,      parameters: 361_821_120,   tokenizer: 'smollm2' },
  { name: 'llama-3.2-1b', repo: 'meta-llama/Llama-3.2-1B',    model_type: 'llama', hidden_size: 2048, intermediate_size: 8192, num_hidden_layers: 16, num_attention_heads: 32, num_key_value_heads: 8, head_dim: 64,   vocab_size: 128256, max_position_embeddings: 131072, rope_theta: 500000,  rms_norm_eps: 1e-5, tie_word_embeddings: true, initializer_range: 0.02,                 bos_token_id: 128000, eos_token_id: 128001, parameters: 1_235_814_400, tokenizer: 'llama3' },
];

/** Llama-3.2's frequency-dependent RoPE scaling (rope_type "llama3"). */
const LLAMA_3_2_ROPE_SCALING = {
  factor: 32.0,
  high_freq_factor: 4.0,
  low_freq_factor: 1.0,
  original_max_position_embeddings: 8192,
  rope_type: 'llama3',
};

/** The row's config.json: the keys and values its repository publishes, in its key order. */
export function configJson(row: LayoutRow): Record<string, unknown> {
  const common = {
    hidden_size: row.hidden_size,
    initializer_range: row.initializer_range,
    intermediate_size: row.intermediate_size,
    max_position_embeddings: row.max_position_embeddings,
  };
  switch (row.name) {
    case 'qwen2.5-0.5b':
      return {
        architectures: ['Qwen2ForCausalLM'],
        attention_dropout: 0.0,
        bos_token_id: row.bos_token_id,
        eos_token_id: row.eos_token_id,
        hidden_act: 'silu',
        ...common,
        max_window_layers: 21,
        model_type: row.model_type,
        num_attention_heads: row.num_attention_heads,
        num_hidden_layers: row.num_hidden_layers,
        num_key_value_heads: row.num_key_value_heads,
        rms_norm_eps: row.rms_norm_eps,
        rope_theta: row.rope_theta,
        sliding_window: 32768,
        tie_word_embeddings: row.tie_word_embeddings,
        torch_dtype: 'bfloat16',
        transformers_version: '4.43.1',
        use_cache: true,
        use_sliding_window: false,
        vocab_size: row.vocab_size,
      };
    case 'qwen3-0.6b':
      return {
        architectures: ['Qwen3ForCausalLM'],
        attention_bias: false,
        attention_dropout: 0.0,
        bos_token_id: row.bos_token_id,
        eos_token_id: row.eos_token_id,
        head_dim: row.head_dim,
        hidden_act: 'silu',
        ...common,
        max_window_layers: 28,
        model_type: row.model_type,
        num_attention_heads: row.num_attention_heads,
        num_hidden_layers: row.num_hidden_layers,
        num_key_value_heads: row.num_key_value_heads,
        rms_norm_eps: row.rms_norm_eps,
        rope_scaling: null,
        rope_theta: row.rope_theta,
        sliding_window: null,
        tie_word_embeddings: row.tie_word_embeddings,
        torch_dtype: 'bfloat16',
        transformers_version: '4.51.0',
        use_cache: true,
        use_sliding_window: false,
        vocab_size: row.vocab_size,
      };
    case 'smollm2-135m':
    case 'smollm2-360m':
      return {
        architectures: ['LlamaForCausalLM'],
        attention_bias: false,
        attention_dropout: 0.0,
        bos_token_id: row.bos_token_id,
        eos_token_id: row.eos_token_id,
        hidden_act: 'silu',
        ...common,
        is_llama_config: true,
        model_type: row.model_type,
        num_attention_heads: row.num_attention_heads,
        num_hidden_layers: row.num_hidden_layers,
        num_key_value_heads: row.num_key_value_heads,
        pretraining_tp: 1,
        rms_norm_eps: row.rms_norm_eps,
        rope_interleaved: false,
        rope_scaling: null,
        rope_theta: row.rope_theta,
        tie_word_embeddings: row.tie_word_embeddings,
        torch_dtype: 'bfloat16',
        transformers_version: '4.42.3',
        use_cache: true,
        vocab_size: row.vocab_size,
      };
    case 'llama-3.2-1b':
      return {
        architectures: ['LlamaForCausalLM'],
        attention_bias: false,
        attention_dropout: 0.0,
        bos_token_id: row.bos_token_id,
        eos_token_id: row.eos_token_id,
        head_dim: row.head_dim,
        hidden_act: 'silu',
        ...common,
        mlp_bias: false,
        model_type: row.model_type,
        num_attention_heads: row.num_attention_heads,
        num_hidden_layers: row.num_hidden_layers,
        num_key_value_heads: row.num_key_value_heads,
        pretraining_tp: 1,
        rms_norm_eps: row.rms_norm_eps,
        rope_scaling: LLAMA_3_2_ROPE_SCALING,
        rope_theta: row.rope_theta,
        tie_word_embeddings: row.tie_word_embeddings,
        torch_dtype: 'bfloat16',
        transformers_version: '4.45.0.dev0',
        use_cache: true,
        vocab_size: row.vocab_size,
      };
  }
}

/** The row's generation_config.json as published. */
export function generationConfig(row: LayoutRow): Record<string, unknown> {
  switch (row.name) {
    case 'qwen2.5-0.5b':
      return {
        bos_token_id: 151643,
        pad_token_id: 151643,
        do_sample: true,
        eos_token_id: [151645, 151643],
        repetition_penalty: 1.1,
        temperature: 0.7,
        top_p: 0.8,
        top_k: 20,
        transformers_version: '4.37.0',
      };
    case 'qwen3-0.6b':
      return {
        bos_token_id: 151643,
        do_sample: true,
        eos_token_id: [151645, 151643],
        pad_token_id: 151643,
        temperature: 0.6,
        top_k: 20,
        top_p: 0.95,
        transformers_version: '4.51.0',
      };
    case 'smollm2-135m':
    case 'smollm2-360m':
      return {
        _from_model_config: true,
        bos_token_id: 0,
        eos_token_id: 0,
        transformers_version: '4.42.3',
      };
    case 'llama-3.2-1b':
      return {
        _from_model_config: true,
        bos_token_id: 128000,
        do_sample: true,
        eos_token_id: 128001,
        temperature: 0.6,
        top_p: 0.9,
        transformers_version: '4.45.0.dev0',
      };
  }
}

/**
 * The `--tiny` variant of a config.json: the same keys, flags, vocabulary,
 * RoPE and tied head, with 2 layers and dims shrunk so the model is a few MB
 * plus its embedding. Keeps what distinguishes the layout: the GQA group size
 * (heads per kv head), an explicit head_dim where the config has one, and the
 * ratio heads × head_dim / hidden_size (2 in Qwen3-0.6B, 1 elsewhere).
 */
export function tinyConfig(config: Record<string, unknown>): Record<string, unknown> {
  const hidden = config['hidden_size'] as number;
  const heads = config['num_attention_heads'] as number;
  const kv = config['num_key_value_heads'] as number;
  const headDim = (config['head_dim'] as number | undefined) ?? hidden / heads;
  const group = heads / kv;
  const kvTiny = group >= 4 ? 1 : 2;
  const headsTiny = group * kvTiny;
  const headDimTiny = 16;
  const hiddenTiny = (headsTiny * headDimTiny * hidden) / (heads * headDim);
  const inter = config['intermediate_size'] as number;
  return {
    ...config,
    hidden_size: hiddenTiny,
    intermediate_size: 8 * Math.round((hiddenTiny * inter) / hidden / 8),
    num_hidden_layers: 2,
    num_attention_heads: headsTiny,
    num_key_value_heads: kvTiny,
    ...('head_dim' in config ? { head_dim: headDimTiny } : {}),
  };
}
