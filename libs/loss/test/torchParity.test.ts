// Parity with PyTorch float64 autograd: fixtures from tools/reference/loss/make_fixtures.py,
// which re-derives NeMo RL's ClippedPGLossFn and TRL's DPO variants in torch.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@rxrl/core';
import {
  clippedPgLoss,
  dpoLoss,
  readMetricsSync,
  type ClippedPgLossOptionsInput,
  type DpoLossOptionsInput,
} from '../src/index';
import { expectClose, expectMatrixClose, gradOf, t1, t2 } from './helpers';
import type { M } from './reference';

interface Fixture {
  pg_inputs: {
    curr: M;
    prev: M;
    gen: M;
    ref: M;
    token_mask: M;
    sample_mask: number[];
    rewards: number[];
    adv_seq: number[];
    adv_tok: M;
    entropies: M;
  };
  clipped_pg: Array<{
    name: string;
    options: ClippedPgLossOptionsInput;
    per_token_advantages: boolean;
    loss: number;
    grad: M;
  }>;
  dpo_inputs: {
    pc: number[];
    pr: number[];
    rc: number[];
    rr: number[];
    len_chosen: number[];
    len_rejected: number[];
  };
  dpo: Array<{
    options: Record<string, unknown> & { beta: number; loss_type: string };
    loss: number;
    grad_chosen: number[];
    grad_rejected: number[];
    per_pair: Record<
      'loss' | 'chosen_rewards' | 'rejected_rewards' | 'chosen_logps' | 'rejected_logps',
      number[]
    >;
  }>;
}
const fx = JSON.parse(
  readFileSync(new URL('./fixtures/torch_losses.json', import.meta.url), 'utf8'),
) as Fixture;

describe('parity with PyTorch float64 autograd (wasm)', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });
  const p = fx.pg_inputs;

  for (const c of fx.clipped_pg) {
    it(`clippedPgLoss ${c.name}: loss and gradient`, () => {
      const run = (x: tf.Tensor2D) =>
        clippedPgLoss(c.options, {
          currLogprobs: x,
          prevLogprobs: t2(p.prev),
          generationLogprobs: t2(p.gen),
          refLogprobs: t2(p.ref),
          advantages: c.per_token_advantages ? t2(p.adv_tok) : t1(p.adv_seq),
          tokenMask: t2(p.token_mask),
          sampleMask: t1(p.sample_mask),
          rewards: t1(p.rewards),
          entropies: t2(p.entropies),
        });
      const r = run(t2(p.curr));
      expectClose(r.loss.dataSync()[0]!, c.loss, 2e-5, `${c.name} loss`);
      readMetricsSync(r.metrics);
      r.loss.dispose();
      expectMatrixClose(
        gradOf((x) => run(x).loss, p.curr),
        c.grad,
        2e-4,
        `${c.name} grad`,
      );
    });
  }

  const d = fx.dpo_inputs;
  for (const c of fx.dpo) {
    const { beta, ...rest } = c.options;
    const opts = { ...rest, reference_policy_kl_penalty: beta } as DpoLossOptionsInput;
    const label = `${c.options.loss_type}${c.options['f_divergence_type'] ? ` / ${String(c.options['f_divergence_type'])}` : ''}`;
    it(`dpoLoss ${label}: loss and gradient`, () => {
      const run = (x: tf.Tensor2D) => {
        const [pc, pr] = tf.unstack(x);
        return dpoLoss(opts, {
          policyChosenLogps: pc!,
          policyRejectedLogps: pr!,
          referenceChosenLogps: t1(d.rc),
          referenceRejectedLogps: t1(d.rr),
          chosenLengths: t1(d.len_chosen),
          rejectedLengths: t1(d.len_rejected),
        });
      };
      const r = run(t2([d.pc, d.pr]));
      expectClose(r.loss.dataSync()[0]!, c.loss, 2e-5, `${label} loss`);
      readMetricsSync(r.metrics);
      r.loss.dispose();
      expectMatrixClose(
        gradOf((x) => run(x).loss, [d.pc, d.pr]),
        [c.grad_chosen, c.grad_rejected],
        2e-4,
        `${label} grad`,
      );
    });
    it(`dpoLoss ${label}: per-pair outputs (returnPerPair) and their mean`, () => {
      const r = dpoLoss(opts, {
        policyChosenLogps: t1(d.pc),
        policyRejectedLogps: t1(d.pr),
        referenceChosenLogps: t1(d.rc),
        referenceRejectedLogps: t1(d.rr),
        chosenLengths: t1(d.len_chosen),
        rejectedLengths: t1(d.len_rejected),
        returnPerPair: true,
      });
      const per = r.perPair!;
      for (const k of Object.keys(c.per_pair) as (keyof typeof c.per_pair)[])
        expectMatrixClose([Array.from(per[k].dataSync())], [c.per_pair[k]], 2e-5, `${label} ${k}`);
      const mean = c.per_pair.loss.reduce((a, b) => a + b, 0) / c.per_pair.loss.length;
      expectClose(r.loss.dataSync()[0]!, mean, 2e-5, `${label} mean of per-pair`);
      readMetricsSync(r.metrics);
      tf.dispose([r.loss, ...Object.values(per)]);
    });
  }
});
