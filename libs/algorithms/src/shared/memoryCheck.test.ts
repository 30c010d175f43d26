import { describe, expect, it } from 'vitest';
import { checkRunMemory, estimateRunMemory, fromHfConfig } from '@rxrl/model';
import { policyModelConfig } from './loadPolicy';
import { checkTrainingMemory, trainingRunMemory } from './memoryCheck';
import { policySchema } from './policyOptions';

/** Qwen2.5-0.5B's published config.json (the fields the model reads). */
const QWEN25_05B = fromHfConfig({
  model_type: 'qwen2',
  vocab_size: 151936,
  hidden_size: 896,
  intermediate_size: 4864,
  num_hidden_layers: 24,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  max_position_embeddings: 32768,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000,
  tie_word_embeddings: true,
  hidden_act: 'silu',
});

describe('trainingRunMemory with policy.lora', () => {
  it('counts the adapter (r·(in + out) per module) as the trainable parameters, and no reference copy', () => {
    const base = {
      model_name: 'unused',
      train_micro_batch_size: 1,
      train_global_batch_size: 1,
      max_total_sequence_length: 128,
      activation_checkpointing: true,
    };
    const full = trainingRunMemory(
      'dpo',
      { policy: policySchema.parse(base), dpo: { reference_free: false } },
      'cpu',
      QWEN25_05B,
    );
    expect(full.train!.trainableParams).toBeUndefined();
    expect(full.referenceModel).toBe(true);

    const policy = policySchema.parse({
      ...base,
      lora: { r: 16, target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] },
    });
    const lora = trainingRunMemory(
      'dpo',
      { policy, dpo: { reference_free: false } },
      'cpu',
      QWEN25_05B,
    );
    // per layer: q 896→896, k 896→128, v 896→128, o 896→896, at r 16; 24 layers
    const count = 24 * 16 * (896 + 896 + 2 * (896 + 128) + 896 + 896);
    expect(lora.train!.trainableParams).toBe(count);
    expect(lora.adapterParams).toBe(count);
    // the reference is the base with adapters off (a view), not a copy
    expect(lora.referenceModel).toBe(false);

    // a limit a full fine-tune exceeds and the LoRA run fits
    const limit = { bytes: 6 * 2 ** 30, description: 'test limit' };
    expect(() => checkRunMemory('dpo', estimateRunMemory(QWEN25_05B, full), limit, full)).toThrow(
      /dpo needs about [\d.]+ GiB, more than 6\.00 GiB[\s\S]*LoRA/,
    );
    expect(checkRunMemory('dpo', estimateRunMemory(QWEN25_05B, lora), limit, lora)).toMatch(
      /dpo needs about [\d.]+ GiB of 6\.00 GiB/,
    );
  });
});

describe('checkTrainingMemory with activation_checkpointing auto (the default)', () => {
  it('decides before loading, writes the choice into the config and says why', async () => {
    const config = () => ({
      policy: policySchema.parse({
        init: { preset: 'tiny' },
        tokenizer: { name: 'builtin' },
        train_micro_batch_size: 8,
        max_total_sequence_length: 256,
      }),
    });
    expect(config().policy.activation_checkpointing).toBe('auto');
    // a roomy limit: activations are kept
    const roomy = config();
    const line = await checkTrainingMemory('sft', roomy, 'cpu', process.cwd(), {
      RXRL_MEMORY_LIMIT: '8GiB',
    });
    expect(roomy.policy.activation_checkpointing).toBe(false);
    expect(line).toMatch(
      /activation checkpointing off: auto: keeping activations \(keeping them needs about [\d.]+ MiB, no more than 80% of 8\.00 GiB\)/,
    );
    // a limit whose 80% the kept activations exceed: recomputed (and then it fits)
    const model = await policyModelConfig(config().policy);
    const kept = estimateRunMemory(
      model,
      trainingRunMemory('sft', config(), 'cpu', model),
    ).totalBytes;
    const tight = config();
    const mib = Math.ceil(kept / 0.8 / 2 ** 20) - 1;
    const tightLine = await checkTrainingMemory('sft', tight, 'cpu', process.cwd(), {
      RXRL_MEMORY_LIMIT: `${mib}MiB`,
    });
    expect(tight.policy.activation_checkpointing).toBe(true);
    expect(tightLine).toMatch(/activation checkpointing on: auto: recomputing activations/);
    // an explicit setting is left alone and adds no line
    const fixed = { policy: { ...config().policy, activation_checkpointing: false } };
    expect(
      await checkTrainingMemory('sft', fixed, 'cpu', process.cwd(), { RXRL_MEMORY_LIMIT: '8GiB' }),
    ).not.toMatch(/activation checkpointing/);
  });
});
