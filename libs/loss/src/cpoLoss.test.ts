import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { TEST_BACKENDS, useBackend } from '@rxrl/core';
import { cpoLoss, cpoLossOptionsSchema, readMetricsSync, type CpoLossOptionsInput } from './index';
import { expectClose, gradOf, t1, t2 } from '../test/helpers';

const pair = (o: CpoLossOptionsInput, x: tf.Tensor2D, lens: [number, number]) => {
  const [c, r] = tf.unstack(x);
  return cpoLoss(o, {
    policyChosenLogps: c!,
    policyRejectedLogps: r!,
    chosenLengths: t1([lens[0]]),
    rejectedLengths: t1([lens[1]]),
  });
};

for (const backend of TEST_BACKENDS) {
  describe(`cpoLoss on ${backend}`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });

    it('CPO sigmoid: Σ log π_c −2 (2 tokens), Σ log π_r −5, β 0.1 → log(1 + e^−0.3) + 1·NLL 1', () => {
      const r = tf.tidy(() => pair({ beta: 0.1 }, t2([[-2], [-5]]), [2, 3]));
      expectClose(r.loss.dataSync()[0]!, Math.log1p(Math.exp(-0.3)) + 1, 1e-6, 'loss');
      const m = readMetricsSync(r.metrics);
      expectClose(m['nll_loss']!, 1, 1e-6, 'nll');
      expectClose(m['reward_margin']!, 0.3, 1e-6, 'margin');
      r.loss.dispose();
    });

    it('SimPO: mean log π −0.5 vs −1, β 2, γ 1 → βΔ − γ = 0: loss ln 2, gradient ∓β·σ(0)/len', () => {
      const o = { loss_type: 'simpo', beta: 2, simpo_gamma: 1, cpo_alpha: 0 } as const;
      // sums −1 over 2 tokens and −3 over 3 tokens: averages −0.5 and −1
      const x = [[-1], [-3]];
      const r = tf.tidy(() => pair(o, t2(x), [2, 3]));
      expectClose(r.loss.dataSync()[0]!, Math.LN2, 1e-6, 'loss');
      readMetricsSync(r.metrics);
      r.loss.dispose();
      const g = gradOf((v) => pair(o, v, [2, 3]).loss, x);
      expectClose(g[0]![0]!, (-2 * 0.5) / 2, 1e-6, 'chosen');
      expectClose(g[1]![0]!, (2 * 0.5) / 3, 1e-6, 'rejected');
    });

    it('schema: SimPO and CPO options, strict', () => {
      expect(cpoLossOptionsSchema.parse({}).cpo_alpha).toBe(1);
      expect(() => cpoLossOptionsSchema.parse({ loss_type: 'alphapo' })).toThrow();
      expect(() => cpoLossOptionsSchema.parse({ beta: 0 })).toThrow();
    });
  });
}
