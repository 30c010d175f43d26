import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@rxrl/core';
import { loadPretrained } from '../src/pretrained';
import { loadFixture, relativeError } from './fixtures';

// One parity case on the cpu backend (the wasm file covers every architecture).
describe('parity with the PyTorch reference (cpu)', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('qwen3 (bf16 shards): logits within 1e-4 relative, left-padded', async () => {
    expect(tf.getBackend()).toBe('cpu');
    const fx = await loadFixture('qwen3');
    const model = await loadPretrained(fx.dir);
    const padded = model.logits(fx.paddedIds, fx.paddedMask);
    const err = relativeError(
      padded.dataSync(),
      fx.paddedLogits,
      fx.shape,
      fx.paddedMask.dataSync(),
    );
    expect(err).toBeLessThan(1e-4);
    model.dispose();
  });
});
