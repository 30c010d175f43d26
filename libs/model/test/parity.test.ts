import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@rxrl/core';
import { loadPretrained } from '../src/pretrained';
import { FIXTURE_ARCHS, loadFixture, relativeError } from './fixtures';

// Logits of models loaded from the PyTorch reference's HF directories
// (tools/reference/models.py) against the reference's own logits.
describe('parity with the PyTorch reference (wasm)', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });
  afterAll(() => tf.disposeVariables());

  for (const arch of FIXTURE_ARCHS) {
    it(`${arch}: logits within 1e-4 relative, unpadded and left-padded`, async () => {
      const fx = await loadFixture(arch);
      const model = await loadPretrained(fx.dir);
      const plain = model.logits(fx.ids, fx.mask);
      const padded = model.logits(fx.paddedIds, fx.paddedMask);
      const errPlain = relativeError(plain.dataSync(), fx.logits, fx.shape);
      const errPadded = relativeError(
        padded.dataSync(),
        fx.paddedLogits,
        fx.shape,
        fx.paddedMask.dataSync(),
      );
      // no mask at all must equal the all-ones mask
      const noMask = model.logits(fx.ids);
      const errNoMask = relativeError(noMask.dataSync(), fx.logits, fx.shape);
      console.log(
        `${arch} ${tf.getBackend()}: rel err unpadded ${errPlain.toExponential(2)}, padded ${errPadded.toExponential(2)}`,
      );
      expect(errPlain).toBeLessThan(1e-4);
      expect(errPadded).toBeLessThan(1e-4);
      expect(errNoMask).toBeLessThan(1e-4);
      tf.dispose([plain, padded, noMask, fx.ids, fx.mask, fx.paddedIds, fx.paddedMask]);
      model.dispose();
    });
  }
});
