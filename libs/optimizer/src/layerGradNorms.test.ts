import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@rxrl/core';
import { globalNorm } from './clipGradNorm';
import { layerGradNorms, layerGroup } from './layerGradNorms';

describe('layerGradNorms', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('groups Hugging Face names by decoder block, else by module', () => {
    expect(layerGroup('model.layers.3.mlp.up_proj.weight')).toBe('layers.3');
    expect(layerGroup('model.layers.12.self_attn.q_proj.lora_A')).toBe('layers.12');
    expect(layerGroup('transformer.h.0.attn.c_attn.bias')).toBe('layers.0');
    expect(layerGroup('model.embed_tokens.weight')).toBe('embed_tokens');
    expect(layerGroup('model.norm.weight')).toBe('norm');
    expect(layerGroup('lm_head.weight')).toBe('lm_head');
  });

  it('norms by hand: layer 0 [3, 4] → 5, layer 1 [1] and [2, 2] → 3, embed [0] → 0; they combine to the global norm', () => {
    const grads = {
      'model.layers.0.mlp.up_proj.weight': tf.tensor1d([3, 4]),
      'model.layers.1.mlp.up_proj.weight': tf.tensor1d([1]),
      'model.layers.1.self_attn.q_proj.bias': tf.tensor1d([2, 2]),
      'model.embed_tokens.weight': tf.tensor1d([0]),
    };
    const before = tf.memory().numTensors;
    const n = layerGradNorms(grads);
    expect(tf.memory().numTensors).toBe(before);
    expect(n).toEqual({ 'layers.0': 5, 'layers.1': 3, embed_tokens: 0 });
    const g = globalNorm(grads);
    expect(Math.hypot(...Object.values(n))).toBeCloseTo(g.dataSync()[0]!, 5); // √34
    tf.dispose([g, ...Object.values(grads)]);
  });
});
