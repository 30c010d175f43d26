// Metrics are behaviour: each metric of preferenceLoss, ktoLoss, orpoLoss, cpoLoss and
// KTO on pairs with a number worked out by hand from the formulas in their doc comments.
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@rxrl/core';
import * as tf from '@tensorflow/tfjs-core';
import {
  cpoLoss,
  disposeLossResult,
  gkdLoss,
  keepMetrics,
  ktoLoss,
  orpoLoss,
  preferenceLoss,
  preferenceObjectiveLoss,
  readMetrics,
  readMetricsSync,
} from './index';
import { expectClose, t1, t2 } from '../test/helpers';

const sig = (x: number) => 1 / (1 + Math.exp(-x));
const softplus = (x: number) => Math.log1p(Math.exp(x));

describe('loss metrics by hand', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });

  it('preferenceLoss: Bradley–Terry + 0.1·centring over the 2 valid pairs of 3', () => {
    const r = preferenceLoss(
      { center_rewards_coefficient: 0.1 },
      {
        rewardsChosen: t1([2, -1, 0.5]),
        rewardsRejected: t1([1, 0.5, 0.5]),
        sampleMask: t1([1, 1, 0]),
      },
    );
    // d = r_c − r_r = (1, −1.5): BT = mean(softplus(−d)); centre = mean((r_c + r_r)²) = (9 + 0.25)/2
    const bt = (softplus(-1) + softplus(1.5)) / 2;
    const expected: Record<string, number> = {
      loss: bt + 0.1 * 4.625,
      center_loss: 4.625,
      accuracy: 0.5,
      rewards_chosen_mean: 0.5,
      rewards_rejected_mean: 0.75,
      num_valid_samples: 2,
    };
    expectClose(r.loss.dataSync()[0]!, expected['loss']!, 1e-6, 'loss');
    r.loss.dispose();
    const m = readMetricsSync(r.metrics);
    expect(Object.keys(m).sort()).toEqual(Object.keys(expected).sort());
    for (const [k, v] of Object.entries(expected)) expectClose(m[k]!, v, 1e-6, k);
  });

  it('ktoLoss with global counts: loss, kl share, reward means, sample counts', () => {
    // ρ = π − π_ref = (1, −1, 0.5, −3); sample 3 is masked; z₀ = 0.4, β = 0.5
    const r = ktoLoss(
      { beta: 0.5 },
      {
        policyLogps: t1([-1, -3, -1.5, -5]),
        referenceLogps: t1([-2, -2, -2, -2]),
        desirable: t1([1, 0, 1, 0]),
        sampleMask: t1([1, 1, 1, 0]),
        kl: 0.4,
        globalValidSamples: 6,
        globalDesirable: 4,
        globalUndesirable: 2,
      },
    );
    const expected: Record<string, number> = {
      // desirable 1 − σ(β(ρ − z₀)), undesirable 1 − σ(β(z₀ − ρ)), summed over 6 global samples
      loss: (1 - sig(0.3) + (1 - sig(0.7)) + (1 - sig(0.05))) / 6,
      kl: (0.4 * 3) / 6, // this batch's 3 of the 6 samples
      rewards_chosen_mean: (0.5 * (1 + 0.5)) / 4,
      rewards_rejected_mean: (0.5 * -1) / 2,
      num_desirable: 2,
      num_undesirable: 1,
    };
    expectClose(r.loss.dataSync()[0]!, expected['loss']!, 1e-6, 'loss');
    r.loss.dispose();
    const m = readMetricsSync(r.metrics);
    expect(Object.keys(m).sort()).toEqual(Object.keys(expected).sort());
    for (const [k, v] of Object.entries(expected)) expectClose(m[k]!, v, 1e-6, k);
  });

  it('preferenceLoss without a sample mask averages over all B pairs', () => {
    const r = preferenceLoss({}, { rewardsChosen: t1([1, 0]), rewardsRejected: t1([0, 1]) });
    expectClose(r.loss.dataSync()[0]!, (softplus(-1) + softplus(1)) / 2, 1e-6, 'loss');
    r.loss.dispose();
    const m = readMetricsSync(r.metrics);
    expect(m['num_valid_samples']).toBe(2);
    expect(m['accuracy']).toBe(0.5);
  });

  it('gkdLoss (β 0: forward KL of teacher to student) over 2 positions, no mask', () => {
    // row 0: KL(softmax[1,0] ‖ softmax[0,0]) = 0.1109441; row 1 the reverse: 0.1201145
    const r = gkdLoss(
      { beta: 0 },
      {
        studentLogits: t2([
          [0, 0],
          [1, 0],
        ]),
        teacherLogits: t2([
          [1, 0],
          [0, 0],
        ]),
      },
    );
    expectClose(r.loss.dataSync()[0]!, 0.11552929, 1e-5, 'loss');
    r.loss.dispose();
    const m = readMetricsSync(r.metrics);
    expect(Object.keys(m).sort()).toEqual(['loss', 'num_unmasked_tokens']);
    expectClose(m['loss']!, 0.11552929, 1e-5, 'loss metric');
    expect(m['num_unmasked_tokens']).toBe(2);
  });

  it('orpoLoss: every metric over the 2 valid pairs of 3 (λ 0.2)', () => {
    // mean token probabilities: pair 0 chosen 0.5, rejected 0.25; pair 1 chosen 0.2, rejected 0.5
    // log odds(p) = ln(p/(1 − p)): pair 0 0 − (−ln 3) = ln 3, pair 1 −ln 4 − 0 = −ln 4
    // log σ(ln 3) = ln(3/4), log σ(−ln 4) = ln(1/5)
    const r = orpoLoss(
      { beta: 0.2 },
      {
        policyChosenLogps: t1([2 * Math.log(0.5), 3 * Math.log(0.2), Math.log(0.9)]),
        policyRejectedLogps: t1([Math.log(0.25), 2 * Math.log(0.5), Math.log(0.1)]),
        chosenLengths: t1([2, 3, 1]),
        rejectedLengths: t1([1, 2, 1]),
        sampleMask: t1([1, 1, 0]),
      },
    );
    const logOddsRatio = (Math.log(0.75) + Math.log(0.2)) / 2;
    // the chosen NLL is a token mean over the 2 + 3 chosen tokens of the valid pairs
    const nll = -(2 * Math.log(0.5) + 3 * Math.log(0.2)) / 5;
    const expected: Record<string, number> = {
      loss: nll - 0.2 * logOddsRatio,
      nll_loss: nll,
      or_loss: -0.2 * logOddsRatio,
      log_odds_ratio: logOddsRatio,
      log_odds_chosen: (Math.log(3) - Math.log(4)) / 2,
      rewards_chosen_mean: (0.2 * (Math.log(0.5) + Math.log(0.2))) / 2,
      rewards_rejected_mean: (0.2 * (Math.log(0.25) + Math.log(0.5))) / 2,
      accuracy: 0.5, // pair 1's chosen 0.2 is below its rejected 0.5
      num_valid_samples: 2,
    };
    expectClose(r.loss.dataSync()[0]!, expected['loss']!, 1e-6, 'loss');
    r.loss.dispose();
    const m = readMetricsSync(r.metrics);
    expect(Object.keys(m).sort()).toEqual(Object.keys(expected).sort());
    for (const [k, v] of Object.entries(expected)) expectClose(m[k]!, v, 1e-6, k);
  });

  it('cpoLoss (sigmoid, β 0.5, α 0.5): every metric over the 2 valid pairs of 3', () => {
    // summed log-probs: pair 0 chosen −2 (2 tokens), rejected −4 → βd = 1;
    // pair 1 chosen −3 (1 token), rejected −2 → βd = −0.5; pair 2 is masked
    const r = cpoLoss(
      { beta: 0.5, cpo_alpha: 0.5 },
      {
        policyChosenLogps: t1([-2, -3, -1]),
        policyRejectedLogps: t1([-4, -2, -9]),
        chosenLengths: t1([2, 1, 1]),
        rejectedLengths: t1([2, 4, 1]),
        sampleMask: t1([1, 1, 0]),
      },
    );
    const preference = (softplus(-1) + softplus(0.5)) / 2;
    const nll = 5 / 3; // −(−2 − 3) over the 3 chosen tokens of the valid pairs
    const expected: Record<string, number> = {
      loss: preference + 0.5 * nll,
      nll_loss: nll,
      preference_loss: preference,
      rewards_chosen_mean: (0.5 * (-2 - 3)) / 2,
      rewards_rejected_mean: (0.5 * (-4 - 2)) / 2,
      reward_margin: (0.5 * (2 - 1)) / 2,
      accuracy: 0.5,
      num_valid_samples: 2,
    };
    expectClose(r.loss.dataSync()[0]!, expected['loss']!, 1e-6, 'loss');
    r.loss.dispose();
    const m = readMetricsSync(r.metrics);
    expect(Object.keys(m).sort()).toEqual(Object.keys(expected).sort());
    for (const [k, v] of Object.entries(expected)) expectClose(m[k]!, v, 1e-6, k);
  });

  it('KTO on pairs: every metric, normalised by 2 × the global pair count (pair 1 masked)', () => {
    // pair 0: ρ chosen −1 − (−2) = 1 (desirable), rejected −3 − (−2) = −1 (undesirable);
    // β 0.5, z₀ 0.2, 4 global pairs → 8 global samples, 4 desirable, 4 undesirable
    const r = preferenceObjectiveLoss(
      { name: 'kto', beta: 0.5 },
      {
        policyChosenLogps: t1([-1, -2]),
        policyRejectedLogps: t1([-3, -2.5]),
        referenceChosenLogps: t1([-2, -2]),
        referenceRejectedLogps: t1([-2, -2]),
        sampleMask: t1([1, 0]),
        globalValidPairs: 4,
      },
      { klReferencePoint: 0.2 },
    );
    const expected: Record<string, number> = {
      loss: (1 - sig(0.5 * (1 - 0.2)) + (1 - sig(0.5 * (0.2 + 1)))) / 8,
      kl: (0.2 * 2) / 8, // this batch's 2 of the 8 samples
      rewards_chosen_mean: (0.5 * 1) / 4,
      rewards_rejected_mean: (0.5 * -1) / 4,
      num_desirable: 1,
      num_undesirable: 1,
      accuracy: 1 / 4, // pair 0's chosen ρ beats its rejected one, over 4 global pairs
    };
    expectClose(r.loss.dataSync()[0]!, expected['loss']!, 1e-6, 'loss');
    r.loss.dispose();
    const m = readMetricsSync(r.metrics);
    expect(Object.keys(m).sort()).toEqual(Object.keys(expected).sort());
    for (const [k, v] of Object.entries(expected)) expectClose(m[k]!, v, 1e-6, k);
  });

  it('cpoLoss with cpo_alpha 0 has no NLL term (nll_loss 0) and counts all B pairs', () => {
    const r = cpoLoss(
      { cpo_alpha: 0 },
      {
        policyChosenLogps: t1([-2, -4]),
        policyRejectedLogps: t1([-3, -3]),
        chosenLengths: t1([2, 2]),
        rejectedLengths: t1([1, 1]),
      },
    );
    r.loss.dispose();
    const m = readMetricsSync(r.metrics);
    expect(m['nll_loss']).toBe(0);
    expect(m['num_valid_samples']).toBe(2);
    expectClose(m['loss']!, m['preference_loss']!, 1e-7, 'loss = preference');
  });

  it('readMetrics reads numbers and tensors and disposes the tensors; keepMetrics keeps them', async () => {
    const before = tf.memory().numTensors;
    const kept = tf.tidy(() => keepMetrics({ a: tf.scalar(1.5) as tf.Scalar, n: 3 }));
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(await readMetrics(kept)).toEqual({ a: 1.5, n: 3 });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('disposeLossResult disposes the loss and every tensor metric', () => {
    const before = tf.memory().numTensors;
    disposeLossResult({
      loss: tf.scalar(1) as tf.Scalar,
      metrics: { a: tf.scalar(2) as tf.Scalar, n: 4 },
    });
    expect(tf.memory().numTensors).toBe(before);
  });
});
