// Parity of ORPO, CPO / SimPO, KTO and DFT with PyTorch float64 autograd: fixtures from
// tools/reference/loss/make_preference_fixtures.py, which re-derives each loss from its paper.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { TEST_BACKENDS, useBackend } from '@rxrl/core';
import {
  cpoLoss,
  dftLoss,
  gkdLoss,
  ktoLoss,
  orpoLoss,
  readMetricsSync,
  type CpoLossOptionsInput,
  type KtoLossOptionsInput,
  type OrpoLossOptionsInput,
} from '../src/index';
import { expectClose, expectMatrixClose, gradOf, t1, t2 } from './helpers';
import type { M } from './reference';

interface Fixture {
  pair_inputs: {
    chosen: M;
    rejected: M;
    chosen_mask: M;
    rejected_mask: M;
    sample_mask: number[];
  };
  pair: Array<{
    loss_fn: 'orpo' | 'cpo';
    options: Record<string, unknown>;
    loss: number;
    metrics: Record<string, number>;
    grad_chosen: M;
    grad_rejected: M;
  }>;
  kto_inputs: {
    logps: M;
    ref: M;
    mask: M;
    desirable: number[];
    sample_mask: number[];
    kl_logps: M;
    kl_ref: M;
    kl_mask: M;
  };
  kto: Array<{ options: KtoLossOptionsInput; loss: number; metrics: { kl: number }; grad: M }>;
  dft: { logps: M; mask: M; sample_mask: number[]; loss: number; grad: M };
  gkd_inputs: { student: M; teacher: M; mask: number[] };
  gkd: Array<{ options: { beta: number; temperature?: number }; loss: number; grad: M }>;
}
const fx = JSON.parse(
  readFileSync(new URL('./fixtures/torch_preference.json', import.meta.url), 'utf8'),
) as Fixture;

for (const backend of TEST_BACKENDS) {
  describe(`preference objectives vs PyTorch float64 autograd (${backend})`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });
    const p = fx.pair_inputs;
    for (const c of fx.pair) {
      const label = `${c.loss_fn} ${JSON.stringify(c.options)}`;
      it(`${label}: loss, metrics and gradients`, () => {
        const T = p.chosen[0]!.length;
        const run = (x: tf.Tensor2D) => {
          const [pc, pr] = [tf.slice(x, [0, 0], [-1, T]), tf.slice(x, [0, T], [-1, T])];
          const inputs = {
            policyChosenLogps: pc,
            policyRejectedLogps: pr,
            chosenMask: t2(p.chosen_mask),
            rejectedMask: t2(p.rejected_mask),
            sampleMask: t1(p.sample_mask),
          };
          return c.loss_fn === 'orpo'
            ? orpoLoss(c.options as OrpoLossOptionsInput, inputs)
            : cpoLoss(c.options as CpoLossOptionsInput, inputs);
        };
        const both = p.chosen.map((row, b) => [...row, ...p.rejected[b]!]);
        const r = run(t2(both));
        expectClose(r.loss.dataSync()[0]!, c.loss, 2e-5, `${label} loss`);
        const m = readMetricsSync(r.metrics);
        for (const [k, v] of Object.entries(c.metrics))
          expectClose(m[k]!, v, 2e-5, `${label} ${k}`);
        r.loss.dispose();
        const g = gradOf((x) => run(x).loss, both);
        expectMatrixClose(
          g,
          c.grad_chosen.map((row, b) => [...row, ...c.grad_rejected[b]!]),
          2e-4,
          `${label} grad`,
        );
      });
    }

    it('dft: loss and gradient', () => {
      const d = fx.dft;
      const run = (x: tf.Tensor2D) =>
        dftLoss({ logprobs: x, tokenMask: t2(d.mask), sampleMask: t1(d.sample_mask) });
      const r = run(t2(d.logps));
      expectClose(r.loss.dataSync()[0]!, d.loss, 2e-5, 'dft loss');
      readMetricsSync(r.metrics);
      r.loss.dispose();
      expectMatrixClose(
        gradOf((x) => run(x).loss, d.logps),
        d.grad,
        2e-4,
        'dft grad',
      );
    });

    for (const c of fx.gkd) {
      it(`gkd ${JSON.stringify(c.options)}: loss and gradient w.r.t. the student logits`, () => {
        const g = fx.gkd_inputs;
        const run = (x: tf.Tensor2D) =>
          gkdLoss(c.options, {
            studentLogits: x,
            teacherLogits: t2(g.teacher),
            tokenMask: t1(g.mask),
          });
        const r = run(t2(g.student));
        expectClose(r.loss.dataSync()[0]!, c.loss, 2e-5, 'gkd loss');
        readMetricsSync(r.metrics);
        r.loss.dispose();
        expectMatrixClose(
          gradOf((x) => run(x).loss, g.student),
          c.grad,
          2e-4,
          'gkd grad',
        );
      });
    }

    const k = fx.kto_inputs;
    for (const c of fx.kto) {
      const label = `kto ${JSON.stringify(c.options)}`;
      it(`${label}: loss, KL reference point and gradient`, () => {
        const run = (x: tf.Tensor2D) =>
          ktoLoss(c.options, {
            policyLogps: x,
            referenceLogps: t2(k.ref),
            mask: t2(k.mask),
            desirable: t1(k.desirable),
            sampleMask: t1(k.sample_mask),
            klPolicyLogps: t2(k.kl_logps),
            klReferenceLogps: t2(k.kl_ref),
            klMask: t2(k.kl_mask),
          });
        const r = run(t2(k.logps));
        expectClose(r.loss.dataSync()[0]!, c.loss, 2e-5, `${label} loss`);
        expectClose(readMetricsSync(r.metrics)['kl']!, c.metrics.kl, 2e-5, `${label} kl`);
        r.loss.dispose();
        expectMatrixClose(
          gradOf((x) => run(x).loss, k.logps),
          c.grad,
          2e-4,
          `${label} grad`,
        );
      });
    }
  });
}
