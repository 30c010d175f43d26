import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { TEST_BACKENDS, useBackend } from '@rxrl/core';
import { orpoLoss, orpoLossOptionsSchema, readMetricsSync } from './index';
import { expectClose, gradOf, t1, t2 } from '../test/helpers';

for (const backend of TEST_BACKENDS) {
  describe(`orpoLoss on ${backend}`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });

    it('closed form: mean p_c 0.5, p_r 0.25, λ 0.1 → ln 2 − 0.1·ln(3/4) = 0.7219155', () => {
      // log odds(0.5) = 0, log odds(0.25) = −ln 3 → log σ(ln 3) = ln(3/4); NLL = −Σ log p_c / len = ln 2
      const f = (x: tf.Tensor2D) => {
        const [c, r] = tf.unstack(x);
        return orpoLoss(
          { beta: 0.1 },
          {
            policyChosenLogps: c!,
            policyRejectedLogps: r!,
            chosenLengths: t1([2]),
            rejectedLengths: t1([1]),
          },
        );
      };
      const x = [[2 * Math.log(0.5)], [Math.log(0.25)]];
      const r = tf.tidy(() => f(t2(x)));
      expectClose(r.loss.dataSync()[0]!, Math.LN2 - 0.1 * Math.log(0.75), 1e-6, 'loss');
      const m = readMetricsSync(r.metrics);
      expectClose(m['log_odds_chosen']!, Math.log(3), 1e-6, 'log_odds_chosen');
      expectClose(m['log_odds_ratio']!, Math.log(0.75), 1e-6, 'log_odds_ratio');
      r.loss.dispose();
      // ∂/∂Σ log p_c = −1/len (NLL) − λ·(1 − σ(ln 3))·1/(1 − p_c)·1/len = −0.5 − 0.1·0.25·2·0.5
      // ∂/∂Σ log p_r = +λ·(1 − σ(ln 3))·1/(1 − p_r) = 0.1·0.25·4/3
      const g = gradOf((v) => f(v).loss, x);
      expectClose(g[0]![0]!, -0.525, 1e-5, 'chosen gradient');
      expectClose(g[1]![0]!, (0.1 * 0.25 * 4) / 3, 1e-5, 'rejected gradient');
    });

    it('micro-batches with global counts add up to the full batch', () => {
      const lpC = [
        [-0.2, -0.9, -0.4],
        [-1.1, -0.3, -0.6],
        [-0.5, -0.7, -0.2],
      ];
      const lpR = [
        [-1.2, -0.8, -0.9],
        [-0.4, -1.5, -0.3],
        [-0.9, -0.6, -1.1],
      ];
      const mC = [
        [1, 1, 0],
        [1, 1, 1],
        [1, 0, 0],
      ];
      const mR = [
        [1, 1, 1],
        [1, 0, 0],
        [1, 1, 0],
      ];
      const run = (lo: number, hi: number, global: boolean) =>
        tf.tidy(() => {
          const r = orpoLoss(
            { beta: 0.3 },
            {
              policyChosenLogps: t2(lpC.slice(lo, hi)),
              policyRejectedLogps: t2(lpR.slice(lo, hi)),
              chosenMask: t2(mC.slice(lo, hi)),
              rejectedMask: t2(mR.slice(lo, hi)),
              globalValidPairs: global ? 3 : undefined,
              globalChosenToks: global ? 6 : undefined,
            },
          );
          readMetricsSync(r.metrics);
          return r.loss.dataSync()[0]!;
        });
      expectClose(run(0, 1, true) + run(1, 3, true), run(0, 3, false), 1e-6, 'sum of parts');
    });

    it('schema: beta ≥ 0, unknown keys rejected', () => {
      expect(() => orpoLossOptionsSchema.parse({ beta: -1 })).toThrow();
      expect(() => orpoLossOptionsSchema.parse({ lambda: 1 })).toThrow(/lambda/);
    });
  });
}
