import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { TEST_BACKENDS, useBackend } from '@rxrl/core';
import { nllLoss, readMetricsSync } from './index';
import { finiteDiff, matrix, refNll, type M } from '../test/reference';
import { expectClose, expectMatrixClose, gradOf, t1, t2 } from '../test/helpers';

const lp = matrix(5, 3, 4, -4, -0.1);
const tm: M = [
  [1, 1, 1, 0],
  [0, 1, 1, 1],
  [1, 0, 0, 0],
];
const sm = [1, 0, 1];

for (const backend of TEST_BACKENDS) {
  describe(`nllLoss on ${backend}`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });

    it('hand value: −(−1 −2 −3)/3 = 2, masked sample dropped, metrics counted', () => {
      const r = nllLoss({
        logprobs: t2([
          [-1, -2, -3, -9],
          [-5, -5, -5, -5],
        ]),
        tokenMask: t2([
          [1, 1, 1, 0],
          [1, 1, 1, 1],
        ]),
        sampleMask: t1([1, 0]),
      });
      expectClose(r.loss.dataSync()[0]!, 2, 1e-6, 'loss');
      const m = readMetricsSync(r.metrics);
      expectClose(m['loss']!, 2, 1e-6, 'loss metric');
      expect(m['num_unmasked_tokens']).toBe(3);
      expect(m['num_valid_samples']).toBe(1);
      r.loss.dispose();
    });

    it('global normaliser and gradient (−mask/N) against finite differences', () => {
      const r = nllLoss({
        logprobs: t2(lp),
        tokenMask: t2(tm),
        sampleMask: t1(sm),
        globalValidToks: 10,
      });
      expectClose(r.loss.dataSync()[0]!, refNll(lp, tm, sm, 10), 1e-6, 'loss');
      readMetricsSync(r.metrics);
      r.loss.dispose();
      const g = gradOf(
        (x) =>
          nllLoss({ logprobs: x, tokenMask: t2(tm), sampleMask: t1(sm), globalValidToks: 10 }).loss,
        lp,
      );
      expectMatrixClose(
        g,
        finiteDiff((x) => refNll(x, tm, sm, 10), lp),
        1e-3,
        'grad',
      );
      expectClose(g[0]![0]!, -1 / 10, 1e-6, 'grad[0][0]');
      expect(Math.abs(g[1]![1]!)).toBe(0);
    });

    it('micro-batch additivity: row splits add up to the full loss and gradient', () => {
      const theta = tf.variable(tf.tensor1d([0.1, 0.2, -0.1, 0.3]));
      const feat = matrix(6, 3, 4, -1, 1);
      const f = (lo: number, hi: number) => () =>
        nllLoss({
          logprobs: tf.add(
            t2(lp.slice(lo, hi)),
            tf.mul(theta, t2(feat.slice(lo, hi))),
          ) as tf.Tensor2D,
          tokenMask: t2(tm.slice(lo, hi)),
          sampleMask: t1(sm.slice(lo, hi)),
          globalValidToks: 4,
        }).loss;
      const full = tf.variableGrads(f(0, 3), [theta]);
      const a = tf.variableGrads(f(0, 2), [theta]);
      const b = tf.variableGrads(f(2, 3), [theta]);
      expectClose(
        a.value.dataSync()[0]! + b.value.dataSync()[0]!,
        full.value.dataSync()[0]!,
        1e-6,
        'loss',
      );
      const gs = tf.add(a.grads[theta.name]!, b.grads[theta.name]!).arraySync() as number[];
      (full.grads[theta.name]!.arraySync() as number[]).forEach((v, i) =>
        expectClose(gs[i]!, v, 1e-6, `grad[${i}]`),
      );
      tf.dispose([
        full.value,
        a.value,
        b.value,
        theta,
        ...Object.values(full.grads),
        ...Object.values(a.grads),
        ...Object.values(b.grads),
      ]);
    });
  });
}
