/**
 * `policy.init` of a test-sized model: a fresh one-layer llama (hidden 32) with the
 * built-in character tokenizer, small enough that a training step takes milliseconds.
 */
export const TINY_POLICY_INIT = {
  arch: 'llama',
  preset: 'tiny',
  config_overrides: {
    hidden_size: 32,
    intermediate_size: 64,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    num_hidden_layers: 1,
    max_position_embeddings: 32,
  },
} as const;
