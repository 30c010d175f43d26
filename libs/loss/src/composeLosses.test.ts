import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@rxrl/core';
import {
  clippedPgLoss,
  composeLosses,
  controllerSchedule,
  dpoLoss,
  linearSchedule,
  makeSchedule,
  nllLoss,
  readMetricsSync,
  scheduleSchema,
} from './index';
import { t1, t2, expectClose } from '../test/helpers';

describe('schedules', () => {
  it('linear ramps between start_step and end_step and holds outside', () => {
    const s = linearSchedule({ start: 0, end: 1, start_step: 10, end_step: 20 });
    expect([s.value(5), s.value(10), s.value(15), s.value(20), s.value(25)]).toEqual([
      0, 0, 0.5, 1, 1,
    ]);
  });

  it('controller: hand-computed adaptive steps, one update per step, JSON state round trip', () => {
    const spec = {
      type: 'controller',
      initial: 0.1,
      metric: 'reward_gap',
      target: 1,
      horizon: 10,
      clip: 0.2,
      direction: -1,
    } as const;
    const s = makeSchedule(spec);
    // gap 0.5 below target: err clip(−0.5) = −0.2; c = 0.1·(1 + 0.2/10) = 0.102
    expect(s.value(1, { reward_gap: 0.5 })).toBeCloseTo(0.102, 12);
    expect(s.value(1, { reward_gap: 0.5 })).toBeCloseTo(0.102, 12);
    // gap 3 above: err clip(2) = 0.2; c = 0.102·(1 − 0.02) = 0.09996
    expect(s.value(2, { reward_gap: 3 })).toBeCloseTo(0.09996, 12);
    // no metric: unchanged
    expect(s.value(3, {})).toBeCloseTo(0.09996, 12);
    const restored = controllerSchedule(
      scheduleSchema.parse(spec) as Extract<
        ReturnType<typeof scheduleSchema.parse>,
        { type: 'controller' }
      >,
    );
    restored.setState(JSON.parse(JSON.stringify(s.getState())));
    expect(restored.value(3)).toBeCloseTo(0.09996, 12);
    expect(restored.value(4, { reward_gap: 1.1 })).toBeCloseTo(0.09996 * (1 - 0.01), 12);
    expect(restored.value(4, { reward_gap: 5 })).toBeCloseTo(0.09996 * (1 - 0.01), 12);
  });

  it('controller respects min / max and rejects bad state', () => {
    const s = makeSchedule({
      type: 'controller',
      initial: 1,
      metric: 'kl',
      target: 0.1,
      horizon: 1,
      max: 1.1,
    });
    expect(s.value(1, { kl: 10 })).toBe(1.1);
    expect(() => s.setState({ value: null })).toThrow(/state.value/);
  });

  it('spec validation names the key', () => {
    const r = scheduleSchema.safeParse({ type: 'linear', start: 0, end: 1 });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.path).toEqual(['end_step']);
    expect(() => linearSchedule({ start: 0, end: 1, start_step: 5, end_step: 5 })).toThrow(
      /end_step/,
    );
  });
});

describe('composeLosses', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });

  const lp = [
    [-1, -2, -0.5],
    [-0.3, -0.7, -1.1],
  ];
  const mask = [
    [1, 1, 0],
    [1, 1, 1],
  ];
  const terms = (x: tf.Tensor2D, sftWeight: number | ReturnType<typeof linearSchedule>) => ({
    preference: {
      result: dpoLoss(
        { reference_policy_kl_penalty: 0.5 },
        {
          policyChosenLogps: tf.sum(tf.mul(x, t2(mask)), -1) as tf.Tensor1D,
          policyRejectedLogps: t1([-2, -2.5]),
          referenceChosenLogps: t1([-3, -2]),
          referenceRejectedLogps: t1([-2, -2]),
        },
      ),
    },
    sft: { result: nllLoss({ logprobs: x, tokenMask: t2(mask) }), weight: sftWeight },
  });

  it('weighted sum with prefixed metrics and the coefficient used', () => {
    const s = linearSchedule({ start: 0, end: 1, end_step: 4 });
    const r = composeLosses(terms(t2(lp), s), { step: 1 });
    const m = readMetricsSync(r.metrics);
    // preference: pair 0 r_c = (−1−2)−(−3) = 0, r_r = 0; pair 1 r_c = −2.1−(−2) = −0.1, r_r = −0.5 → β·Δ = 0, 0.2
    const pref = (Math.log1p(Math.exp(-0.5 * 0)) + Math.log1p(Math.exp(-0.5 * 0.4))) / 2;
    const nll = (1 + 2 + 0.3 + 0.7 + 1.1) / 5;
    expectClose(m['preference/loss']!, pref, 1e-6, 'preference/loss');
    expectClose(m['sft/loss']!, nll, 1e-6, 'sft/loss');
    expect(m['sft/weight']).toBe(0.25);
    expect(m['preference/weight']).toBe(1);
    // the components' own metrics pass through under their prefix
    expect(m['preference/accuracy']).toBe(0.5); // pair 1's −0.1 above −0.5; pair 0 ties
    expectClose(m['preference/reward_gap']!, 0.2, 1e-6, 'preference/reward_gap');
    expect(m['sft/num_unmasked_tokens']).toBe(5);
    expectClose(m['loss']!, pref + 0.25 * nll, 1e-6, 'loss');
    expectClose(r.loss.dataSync()[0]!, pref + 0.25 * nll, 1e-6, 'loss tensor');
    r.loss.dispose();
  });

  it('gradient of the composition is the weighted sum of the component gradients', () => {
    const g = (f: (x: tf.Tensor2D) => tf.Scalar) =>
      tf.tidy(
        () =>
          tf
            .grad((x: tf.Tensor) => f(x as tf.Tensor2D))(t2(lp))
            .arraySync() as number[][],
      );
    const gc = g((x) => composeLosses(terms(x, 0.3)).loss);
    const gp = g((x) => terms(x, 0.3).preference.result.loss);
    const gs = g((x) => nllLoss({ logprobs: x, tokenMask: t2(mask) }).loss);
    gc.forEach((row, b) =>
      row.forEach((v, t) =>
        expectClose(v, gp[b]![t]! + 0.3 * gs[b]![t]!, 1e-6, `grad[${b}][${t}]`),
      ),
    );
  });

  it('hybrid DPO + GRPO with an adaptive β driven by the DPO reward gap', () => {
    const beta = makeSchedule({
      type: 'controller',
      initial: 0.1,
      metric: 'dpo/reward_gap',
      target: 1,
      horizon: 10,
      clip: 0.2,
      direction: -1,
    });
    let last: Record<string, number> = {};
    const betas: number[] = [];
    const losses: number[] = [];
    for (let step = 0; step < 3; step++) {
      const b = beta.value(step, last);
      betas.push(b);
      const r = tf.tidy(() =>
        composeLosses(
          {
            dpo: {
              result: dpoLoss(
                { reference_policy_kl_penalty: b },
                {
                  policyChosenLogps: t1([-3, -2.1]),
                  policyRejectedLogps: t1([-2, -2.5]),
                  referenceChosenLogps: t1([-3, -2]),
                  referenceRejectedLogps: t1([-2, -2]),
                },
              ),
            },
            grpo: {
              result: clippedPgLoss(
                { reference_policy_kl_penalty: 0 },
                {
                  currLogprobs: t2([[Math.log(0.5), 0, Math.log(1.5)]]),
                  prevLogprobs: t2([[0, 0, 0]]),
                  advantages: t2([[1, -1, 2]]),
                  tokenMask: t2([[1, 1, 1]]),
                },
              ),
              weight: 0.5,
            },
          },
          { step, metrics: last },
        ),
      );
      losses.push(r.loss.dataSync()[0]!);
      r.loss.dispose();
      last = readMetricsSync(r.metrics);
      expect(last['grpo/probs_ratio_max']).toBeCloseTo(1.5, 6);
    }
    // reward gap: mean r_c − mean r_r = (0 − 0.1)/2 − (0 − 0.5)/2 = 0.2 → err clip(0.2 − 1) = −0.2 → β·1.02 per step
    expectClose(last['dpo/reward_gap']!, 0.2, 1e-6, 'reward gap');
    expect(betas[0]).toBe(0.1);
    expectClose(betas[1]!, 0.102, 1e-12, 'β1');
    expectClose(betas[2]!, 0.102 * 1.02, 1e-12, 'β2');
    betas.forEach((b, i) => {
      const pref = (Math.log1p(Math.exp(-b * 0)) + Math.log1p(Math.exp(-b * 0.4))) / 2;
      expectClose(losses[i]!, pref + 0.5 * (-1.9 / 3), 1e-6, `loss at step ${i}`);
    });
  });

  it('leak test: a composed loss in a loop keeps numTensors flat', () => {
    const x = t2(lp);
    const once = () => {
      const r = tf.tidy(() => {
        const c = composeLosses(terms(x, 1));
        c.loss.dispose();
        return c.metrics;
      });
      readMetricsSync(r);
    };
    once();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) {
      once();
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(() => composeLosses({})).toThrow(/at least one/);
    expect(() =>
      composeLosses({
        a: {
          result: { loss: tf.scalar(1), metrics: {} },
          weight: { type: 'controller', initial: 1, metric: 'm', target: 0 },
        },
      }),
    ).toThrow(/makeSchedule/);
  });
});

describe('composeLosses weights', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });
  const term = (v: number, metrics: Record<string, number> = {}) => ({
    result: { loss: tf.scalar(v) as tf.Scalar, metrics },
  });

  it('a schedule spec weight is built and evaluated at ctx.step; a number is used as is', () => {
    const r = composeLosses(
      {
        a: { ...term(2), weight: { type: 'linear', start: 0, end: 2, end_step: 4 } },
        b: { ...term(3), weight: 0.5 },
      },
      { step: 1 },
    );
    expect(r.loss.dataSync()[0]).toBeCloseTo(2 * 0.5 + 3 * 0.5, 6);
    const m = readMetricsSync(r.metrics);
    expect(m['a/weight']).toBe(0.5);
    expect(m['b/weight']).toBe(0.5);
    r.loss.dispose();
  });

  it('without ctx the step is 0; a non-finite weight is an error naming the term', () => {
    const r = composeLosses({
      a: { ...term(2), weight: { type: 'linear', start: 1, end: 3, end_step: 4 } },
    });
    expect(r.loss.dataSync()[0]).toBe(2);
    readMetricsSync(r.metrics);
    r.loss.dispose();
    expect(() => composeLosses({ a: { ...term(1), weight: Number.NaN } })).toThrow(
      "composeLosses: weight of 'a' is NaN; expected a finite number",
    );
  });

  it("a term's own loss metric is kept, not replaced by its loss value", () => {
    const r = composeLosses({ a: term(2, { loss: 7, acc: 0.5 }) });
    const m = readMetricsSync(r.metrics);
    expect(m).toEqual({ 'a/loss': 7, 'a/acc': 0.5, 'a/weight': 1, loss: 2 });
    r.loss.dispose();
    const r2 = composeLosses({ a: term(2, { acc: 0.5 }) });
    expect(readMetricsSync(r2.metrics)['a/loss']).toBe(2);
    r2.loss.dispose();
  });
});
