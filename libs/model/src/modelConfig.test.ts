import { describe, expect, it } from 'vitest';
import { RxrlConfigError } from '@rxrl/core/base';
import {
  ARCHITECTURES,
  fromHfConfig,
  presetConfig,
  presetHfConfig,
  toHfConfig,
} from './modelConfig';

const llama = {
  model_type: 'llama',
  vocab_size: 128256,
  hidden_size: 2048,
  intermediate_size: 8192,
  num_hidden_layers: 16,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  max_position_embeddings: 131072,
  rms_norm_eps: 1e-5,
  rope_theta: 500000,
  rope_scaling: {
    factor: 32,
    high_freq_factor: 4,
    low_freq_factor: 1,
    original_max_position_embeddings: 8192,
    rope_type: 'llama3',
  },
  tie_word_embeddings: true,
  hidden_act: 'silu',
  bos_token_id: 128000,
  eos_token_id: [128001, 128008, 128009],
};

describe('fromHfConfig', () => {
  it('reads a Llama 3.2 1B config: GQA, llama3 rope scaling, tied head, derived head_dim', () => {
    const c = fromHfConfig(llama);
    expect(c).toMatchObject({
      arch: 'llama',
      hiddenSize: 2048,
      numHeads: 32,
      numKvHeads: 8,
      headDim: 64,
      normType: 'rms',
      activation: 'silu',
      qkvBias: false,
      outBias: false,
      mlpBias: false,
      qkNorm: false,
      learnedPositions: false,
      tieWordEmbeddings: true,
      ropeTheta: 500000,
      eosTokenId: [128001, 128008, 128009],
    });
    expect(c.ropeScaling).toEqual({
      rope_type: 'llama3',
      factor: 32,
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 8192,
    });
  });

  it('accepts the legacy rope_scaling key "type" and treats "default" as no scaling', () => {
    const legacy = {
      ...llama,
      rope_scaling: { ...llama.rope_scaling, rope_type: undefined, type: 'llama3' },
    };
    expect(fromHfConfig(legacy).ropeScaling?.factor).toBe(32);
    expect(
      fromHfConfig({ ...llama, rope_scaling: { rope_type: 'default' } }).ropeScaling,
    ).toBeNull();
  });

  it('qwen2 has q/k/v biases but no o bias; untied by default', () => {
    const c = fromHfConfig({
      ...llama,
      model_type: 'qwen2',
      rope_scaling: null,
      tie_word_embeddings: undefined,
    });
    expect([c.qkvBias, c.outBias, c.qkNorm, c.tieWordEmbeddings]).toEqual([
      true,
      false,
      false,
      false,
    ]);
  });

  it('qwen3 has q/k norm and an explicit head_dim that need not be hidden/heads', () => {
    const c = fromHfConfig({
      ...llama,
      model_type: 'qwen3',
      hidden_size: 1024,
      num_attention_heads: 16,
      head_dim: 128,
      rope_scaling: null,
    });
    expect([c.qkNorm, c.qkvBias, c.headDim]).toEqual([true, false, 128]);
  });

  it('gpt2: layer norm, tanh GELU, learned positions, tied, n_inner defaults to 4·n_embd', () => {
    const c = fromHfConfig({
      model_type: 'gpt2',
      vocab_size: 50257,
      n_embd: 768,
      n_layer: 12,
      n_head: 12,
      n_positions: 1024,
      n_inner: null,
    });
    expect(c).toMatchObject({
      arch: 'gpt2',
      intermediateSize: 3072,
      headDim: 64,
      numKvHeads: 12,
      normType: 'layer',
      normEps: 1e-5,
      activation: 'gelu_tanh',
      qkvBias: true,
      outBias: true,
      mlpBias: true,
      learnedPositions: true,
      tieWordEmbeddings: true,
      maxPositionEmbeddings: 1024,
    });
  });

  it('parses released configs with their extra keys (Qwen2.5-0.5B-Instruct, Qwen3-0.6B shapes)', () => {
    const qwen25 = {
      architectures: ['Qwen2ForCausalLM'],
      attention_dropout: 0.0,
      bos_token_id: 151643,
      eos_token_id: 151645,
      hidden_act: 'silu',
      hidden_size: 896,
      initializer_range: 0.02,
      intermediate_size: 4864,
      max_position_embeddings: 32768,
      max_window_layers: 21,
      model_type: 'qwen2',
      num_attention_heads: 14,
      num_hidden_layers: 24,
      num_key_value_heads: 2,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000.0,
      sliding_window: 32768,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
      transformers_version: '4.43.1',
      use_cache: true,
      use_sliding_window: false,
      vocab_size: 151936,
    };
    expect(fromHfConfig(qwen25)).toMatchObject({
      arch: 'qwen2',
      headDim: 64,
      numKvHeads: 2,
      qkvBias: true,
      tieWordEmbeddings: true,
      eosTokenId: 151645,
    });
    const qwen3 = {
      architectures: ['Qwen3ForCausalLM'],
      attention_bias: false,
      head_dim: 128,
      hidden_size: 1024,
      intermediate_size: 3072,
      model_type: 'qwen3',
      num_attention_heads: 16,
      num_hidden_layers: 28,
      num_key_value_heads: 8,
      rms_norm_eps: 1e-6,
      rope_scaling: null,
      rope_theta: 1000000,
      sliding_window: null,
      tie_word_embeddings: true,
      use_sliding_window: false,
      vocab_size: 151936,
    };
    expect(fromHfConfig(qwen3)).toMatchObject({
      headDim: 128,
      numHeads: 16,
      qkNorm: true,
      ropeScaling: null,
      maxPositionEmbeddings: 2048,
    });
  });

  it('errors name the offending key and what was expected', () => {
    expect(() => fromHfConfig({ ...llama, model_type: 'mistral' })).toThrow(
      /model_type = "mistral"; expected one of llama, qwen2, qwen3, gpt2/,
    );
    expect(() =>
      fromHfConfig({ ...llama, rope_scaling: { rope_type: 'yarn', factor: 4 } }),
    ).toThrow(/rope_scaling.rope_type = "yarn"/);
    expect(() => fromHfConfig({ ...llama, num_key_value_heads: 5 })).toThrow(
      /num_key_value_heads = 5; expected a divisor of num_attention_heads \(32\)/,
    );
    expect(() => fromHfConfig({ ...llama, hidden_size: 'big' })).toThrow(RxrlConfigError);
    expect(() => fromHfConfig({ ...llama, hidden_size: 'big' })).toThrow(/hidden_size/);
    expect(() => fromHfConfig({ ...llama, hidden_act: 'gelu' })).toThrow(
      /hidden_act = "gelu"; expected "silu"/,
    );
    expect(() =>
      fromHfConfig({ ...llama, model_type: 'qwen2', rope_scaling: null, use_sliding_window: true }),
    ).toThrow(/use_sliding_window = true; expected false/);
    const gpt2 = { model_type: 'gpt2', vocab_size: 10, n_embd: 8, n_layer: 1, n_head: 2 };
    expect(() => fromHfConfig({ ...gpt2, scale_attn_by_inverse_layer_idx: true })).toThrow(
      /scale_attn_by_inverse_layer_idx = true; expected false/,
    );
    expect(() => fromHfConfig({ ...gpt2, n_embd: 9 })).toThrow(
      /n_embd = 9; expected a multiple of n_head \(2\)/,
    );
  });

  it('toHfConfig ∘ fromHfConfig is the identity on ModelConfig for every preset', () => {
    for (const arch of ARCHITECTURES) {
      for (const preset of ['tiny', 'small'] as const) {
        const c = presetConfig(arch, preset, 100);
        expect(fromHfConfig(JSON.parse(JSON.stringify(toHfConfig(c))))).toEqual(c);
      }
    }
  });
});

describe('presets', () => {
  it('tiny and small have the documented sizes and the given vocabulary', () => {
    const tiny = presetConfig('qwen3', 'tiny', 77);
    expect([
      tiny.vocabSize,
      tiny.hiddenSize,
      tiny.numLayers,
      tiny.numHeads,
      tiny.numKvHeads,
      tiny.headDim,
    ]).toEqual([77, 64, 2, 4, 2, 16]);
    const small = presetConfig('llama', 'small', 256);
    expect([
      small.hiddenSize,
      small.numLayers,
      small.numHeads,
      small.numKvHeads,
      small.tieWordEmbeddings,
    ]).toEqual([256, 4, 8, 4, false]);
    const gpt2 = presetConfig('gpt2', 'tiny', 64);
    expect([gpt2.hiddenSize, gpt2.numHeads, gpt2.numKvHeads, gpt2.intermediateSize]).toEqual([
      64, 4, 4, 256,
    ]);
    expect(presetHfConfig('gpt2', 'tiny', 64)['model_type']).toBe('gpt2');
    expect(() => presetConfig('llama', 'tiny', 0)).toThrow(/vocab_size = 0/);
  });
});
