import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { TEST_BACKENDS, useBackend } from '@rxrl/core';
import { dftLoss, readMetricsSync } from './index';
import { expectClose, expectMatrixClose, gradOf, t1, t2 } from '../test/helpers';

for (const backend of TEST_BACKENDS) {
  describe(`dftLoss on ${backend}`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });

    it('closed form: p [0.5, 0.25] (third token masked) → −(0.5 ln 0.5 + 0.25 ln 0.25)/2, ∂ = −p/N', () => {
      const x = [[Math.log(0.5), Math.log(0.25), Math.log(0.1)]];
      const f = (v: tf.Tensor2D) => dftLoss({ logprobs: v, tokenMask: t2([[1, 1, 0]]) });
      const r = tf.tidy(() => f(t2(x)));
      const want = -(0.5 * Math.log(0.5) + 0.25 * Math.log(0.25)) / 2;
      expectClose(r.loss.dataSync()[0]!, want, 1e-6, 'loss');
      const m = readMetricsSync(r.metrics);
      expectClose(m['nll']!, -(Math.log(0.5) + Math.log(0.25)) / 2, 1e-6, 'nll');
      expectClose(m['loss']!, want, 1e-6, 'loss metric');
      expect(m['num_unmasked_tokens']).toBe(2);
      expect(m['num_valid_samples']).toBe(1);
      r.loss.dispose();
      expectMatrixClose(
        gradOf((v) => f(v).loss, x),
        [[-0.25, -0.125, 0]],
        1e-6,
        'gradient',
      );
    });

    it('micro-batches with the global token count add up', () => {
      const x = [
        [-0.2, -1.3, -0.7],
        [-2.1, -0.4, -0.9],
      ];
      const m = [
        [1, 1, 0],
        [1, 1, 1],
      ];
      const part = (lo: number, hi: number, n?: number) =>
        tf.tidy(() => {
          const r = dftLoss({
            logprobs: t2(x.slice(lo, hi)),
            tokenMask: t2(m.slice(lo, hi)),
            sampleMask: t1([1, 1].slice(lo, hi)),
            globalValidToks: n,
          });
          readMetricsSync(r.metrics);
          return r.loss.dataSync()[0]!;
        });
      expectClose(part(0, 1, 5) + part(1, 2, 5), part(0, 2), 1e-6, 'sum of parts');
    });
  });
}
