import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { TEST_BACKENDS, useBackend } from '@rxrl/core';
import { ktoLoss, readMetricsSync, type KtoLossOptionsInput } from './index';
import { expectClose, gradOf, t1, t2 } from '../test/helpers';

const sig = (x: number) => 1 / (1 + Math.exp(-x));

// two samples: desirable with ρ = log π − log π_ref = 1, undesirable with ρ = −1
const run = (o: KtoLossOptionsInput, x: tf.Tensor2D, kl?: number) =>
  ktoLoss(o, {
    policyLogps: tf.reshape(x, [2]),
    referenceLogps: t1([-2, -2]),
    desirable: t1([1, 0]),
    kl,
  });

for (const backend of TEST_BACKENDS) {
  describe(`ktoLoss on ${backend}`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });

    it('kto closed form: β 0.5, z₀ 0.4 → mean(1 − σ(0.3), 1 − σ(0.7)); gradients −β·σ′/2', () => {
      const x = [[-1], [-3]];
      const r = tf.tidy(() => run({ beta: 0.5 }, t2(x), 0.4));
      expectClose(r.loss.dataSync()[0]!, (1 - sig(0.3) + (1 - sig(0.7))) / 2, 1e-6, 'loss');
      const m = readMetricsSync(r.metrics);
      expectClose(m['kl']!, 0.4, 1e-7, 'z0');
      expectClose(m['rewards_chosen_mean']!, 0.5, 1e-6, 'β·ρ desirable');
      expectClose(m['rewards_rejected_mean']!, -0.5, 1e-6, 'β·ρ undesirable');
      r.loss.dispose();
      const g = gradOf((v) => run({ beta: 0.5 }, v, 0.4).loss, x);
      expectClose(g[0]![0]!, (-0.5 * sig(0.3) * (1 - sig(0.3))) / 2, 1e-6, 'desirable');
      expectClose(g[1]![0]!, (0.5 * sig(0.7) * (1 - sig(0.7))) / 2, 1e-6, 'undesirable');
    });

    it('a negative KL estimate is clamped to 0; weights scale each side', () => {
      const o = { beta: 0.5, desirable_weight: 2, undesirable_weight: 0.5 };
      const r = tf.tidy(() => run(o, t2([[-1], [-3]]), -0.2));
      expectClose(
        r.loss.dataSync()[0]!,
        (2 * (1 - sig(0.5)) + 0.5 * (1 - sig(0.5))) / 2,
        1e-6,
        'loss',
      );
      expectClose(readMetricsSync(r.metrics)['kl']!, 0, 0, 'z0');
      r.loss.dispose();
    });

    it('apo_zero_unpaired: 1 − σ(βρ) and σ(βρ), no KL needed', () => {
      const r = tf.tidy(() => run({ beta: 0.5, loss_type: 'apo_zero_unpaired' }, t2([[-1], [-3]])));
      expectClose(r.loss.dataSync()[0]!, (1 - sig(0.5) + sig(-0.5)) / 2, 1e-6, 'loss');
      readMetricsSync(r.metrics);
      r.loss.dispose();
    });

    it('kto without a reference point is an error', () => {
      expect(() => tf.tidy(() => run({}, t2([[-1], [-3]])).loss)).toThrow(/reference point/);
    });
  });
}
