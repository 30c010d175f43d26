import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { TEST_BACKENDS, useBackend } from '@rxrl/core';
import { preferenceLoss, readMetricsSync } from './index';
import { finiteDiff, logSigmoid } from '../test/reference';
import { expectClose, expectMatrixClose, gradOf, t1 } from '../test/helpers';

const rc = [1.2, -0.3, 0.8, 2.0];
const rr = [0.2, 0.5, 0.9, -1.0];
const margin = [0.5, 0, 0.1, 1];
const sm = [1, 1, 0, 1];
function ref(c: number[], r: number[], eta: number, n = 3) {
  let bt = 0;
  let center = 0;
  c.forEach((v, i) => {
    bt += -logSigmoid(v - r[i]! - margin[i]!) * sm[i]!;
    center += (v + r[i]!) ** 2 * sm[i]!;
  });
  return (bt + eta * center) / (n + 1e-8);
}

for (const backend of TEST_BACKENDS) {
  describe(`preferenceLoss on ${backend}`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });

    it('Bradley–Terry by hand: r_c 1, r_r 0 → log(1 + e^−1) = 0.313262', () => {
      const r = preferenceLoss({}, { rewardsChosen: t1([1]), rewardsRejected: t1([0]) });
      expectClose(r.loss.dataSync()[0]!, Math.log1p(Math.exp(-1)), 1e-6, 'loss');
      const m = readMetricsSync(r.metrics);
      expect(m['accuracy']).toBe(1);
      r.loss.dispose();
    });

    it('margin, centring, mask and global normaliser; gradient vs finite differences', () => {
      const run = (c: tf.Tensor1D, r: tf.Tensor1D) =>
        preferenceLoss(
          { center_rewards_coefficient: 0.01 },
          {
            rewardsChosen: c,
            rewardsRejected: r,
            margin: t1(margin),
            sampleMask: t1(sm),
            globalValidPairs: 3,
          },
        );
      const res = run(t1(rc), t1(rr));
      expectClose(res.loss.dataSync()[0]!, ref(rc, rr, 0.01), 1e-6, 'loss');
      const m = readMetricsSync(res.metrics);
      expectClose(m['accuracy']!, 2 / 3, 1e-6, 'accuracy');
      expectClose(m['rewards_chosen_mean']!, (1.2 - 0.3 + 2) / 3, 1e-6, 'rewards_chosen_mean');
      res.loss.dispose();
      const g = gradOf(
        (x) => {
          const [c, r] = tf.unstack(x) as tf.Tensor1D[];
          return run(c!, r!).loss;
        },
        [rc, rr],
      );
      const fd = finiteDiff((x) => ref(x[0]!, x[1]!, 0.01), [rc, rr]);
      expectMatrixClose(g, fd, 1e-3, 'grad');
    });
  });
}
