// dpoLoss defaults and the branches the parity suites do not reach (reference_free,
// α-divergence at α = 1, the sft loss type with a sample mask), with every metric
// asserted. Expected values by hand in float64 (python3):
//   log-ratios r_c = π_c − ref_c = [0.5, −0.7], r_r = π_r − ref_r = [−0.2, −0.1],
//   sigmoid loss = mean −log σ(β(r_c − r_r)).
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@rxrl/core';
import { dpoLoss, dpoLossOptionsSchema, readMetricsSync, type DpoInputs } from './index';
import { expectClose, t1, t2 } from '../test/helpers';

const seq = (): DpoInputs => ({
  policyChosenLogps: t1([-3.0, -5.5]),
  policyRejectedLogps: t1([-4.0, -4.9]),
  referenceChosenLogps: t1([-3.5, -4.8]),
  referenceRejectedLogps: t1([-3.8, -4.8]),
});

function run(options: Parameters<typeof dpoLoss>[0], inputs: DpoInputs) {
  const r = dpoLoss(options, inputs);
  const loss = r.loss.dataSync()[0]!;
  r.loss.dispose();
  return { loss, m: readMetricsSync(r.metrics), r };
}

describe('dpoLoss defaults and branches, by hand', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });

  it('defaults: sigmoid, β 0.05, no SFT term; every metric', () => {
    const { loss, m } = run({}, seq());
    const expected: Record<string, number> = {
      loss: 0.69202999,
      preference_loss: 0.69202999,
      sft_loss: 0,
      accuracy: 0.5, // pair 1 has r_c −0.7 < r_r −0.1
      rewards_chosen_mean: -0.1,
      rewards_rejected_mean: -0.15,
      reward_gap: 0.05,
      logps_chosen_mean: -4.25,
      logps_rejected_mean: -4.45,
      num_valid_samples: 2,
    };
    expect(Object.keys(m).sort()).toEqual(Object.keys(expected).sort());
    for (const [k, v] of Object.entries(expected)) expectClose(m[k]!, v, 1e-5, k);
    expectClose(loss, 0.69202999, 1e-6, 'loss');
    const o = dpoLossOptionsSchema.parse({});
    expect(o.reference_policy_kl_penalty).toBe(0.05);
    expect(o.sft_average_log_probs).toBe(false);
    expect(o.preference_average_log_probs).toBe(false);
    expect(o.reference_free).toBe(false);
  });

  it('the SFT term sums the chosen log-probs by default: mean(3, 5.5) = 4.25; averaged 1.3', () => {
    const lengths = { chosenLengths: t1([2, 5]), rejectedLengths: t1([1, 1]) };
    const sum = run({ sft_loss_weight: 0.5 }, { ...seq(), ...lengths });
    expectClose(sum.m['sft_loss']!, 4.25, 1e-6, 'sft_loss');
    expectClose(sum.loss, 0.69202999 + 0.5 * 4.25, 1e-6, 'loss');
    // mean(3/2, 5.5/5)
    const avg = run(
      { sft_loss_weight: 0.5, sft_average_log_probs: true },
      { ...seq(), ...lengths },
    );
    expectClose(avg.m['sft_loss']!, 1.3, 1e-6, 'sft_loss averaged');
    expectClose(avg.loss, 0.69202999 + 0.5 * 1.3, 1e-6, 'loss averaged');
  });

  it('reference_free: the reference log-probs are 0 and need not be given', () => {
    const { loss, m } = run(
      { reference_free: true, reference_policy_kl_penalty: 0.5 },
      { policyChosenLogps: t1([-3.0, -5.5]), policyRejectedLogps: t1([-4.0, -4.9]) },
    );
    // mean −log σ(0.5·(π_c − π_r)) over (1, −0.6)
    expectClose(loss, 0.66421611, 1e-6, 'loss');
    expectClose(m['rewards_chosen_mean']!, -4.25, 1e-6, 'rewards_chosen_mean');
    expectClose(m['rewards_rejected_mean']!, -4.45, 1e-6, 'rewards_rejected_mean');
    expectClose(m['accuracy']!, 0.5, 1e-6, 'accuracy');
    expect(() =>
      dpoLoss({}, { policyChosenLogps: t1([-1]), policyRejectedLogps: t1([-2]) }),
    ).toThrow(/required unless reference_free/);
  });

  it('reference_free with per-token inputs: sums under the masks, lengths for averaging', () => {
    const { loss } = run(
      {
        reference_free: true,
        reference_policy_kl_penalty: 0.5,
        preference_average_log_probs: true,
      },
      {
        policyChosenLogps: t2([
          [-1, -2, -7],
          [-0.5, -0.5, -0.5],
        ]),
        policyRejectedLogps: t2([
          [-3, -9, -9],
          [-1, -2, -3],
        ]),
        chosenMask: t2([
          [1, 1, 0],
          [1, 1, 1],
        ]),
        rejectedMask: t2([
          [1, 0, 0],
          [1, 1, 1],
        ]),
      },
    );
    // averaged: π_c = (−1.5, −0.5), π_r = (−3, −2); β·Δ = (0.75, 0.75) → −log σ(0.75)
    expectClose(loss, Math.log1p(Math.exp(-0.75)), 1e-6, 'loss');
  });

  it('α-divergence at α = 1 is reverse KL (no ∞ − ∞), α = 0.5 scores −2·e^(−r/2)', () => {
    const rkl = run({ reference_policy_kl_penalty: 0.5 }, seq()).loss;
    expectClose(rkl, 0.6938687, 1e-6, 'reverse_kl');
    const a1 = run(
      {
        reference_policy_kl_penalty: 0.5,
        f_divergence_type: 'alpha_divergence',
        f_alpha_divergence_coef: 1,
      },
      seq(),
    ).loss;
    expectClose(a1, 0.6938687, 1e-6, 'alpha 1');
    const a05 = run(
      {
        reference_policy_kl_penalty: 0.5,
        f_divergence_type: 'alpha_divergence',
        f_alpha_divergence_coef: 0.5,
      },
      seq(),
    ).loss;
    expectClose(a05, 0.71853917, 1e-6, 'alpha 0.5');
  });

  it('α-divergence caps the exponent at 80, so a log-ratio of −400 stays finite', () => {
    const { loss } = run(
      {
        reference_policy_kl_penalty: 0.5,
        f_divergence_type: 'alpha_divergence',
        f_alpha_divergence_coef: 0.5,
      },
      {
        policyChosenLogps: t1([-400]),
        policyRejectedLogps: t1([-1]),
        referenceChosenLogps: t1([0]),
        referenceRejectedLogps: t1([-1]),
      },
    );
    // s(r) = e^min(−r/2, 80)/(−0.5): s_c = −2e^80, s_r = −2 → loss ≈ 0.5·2e^80 = e^80 = 5.5406e34
    expectClose(loss / 5.54062238e34, 1, 1e-5, 'capped loss');
  });

  it("loss_type 'sft' is the chosen token mean over valid pairs only (sampleMask 0 drops a pair)", () => {
    const inputs = (): DpoInputs => ({
      policyChosenLogps: t2([
        [-1, -2, -9],
        [-3, -1, -1],
      ]),
      policyRejectedLogps: t2([
        [-1, -1, -1],
        [-1, -1, -1],
      ]),
      referenceChosenLogps: t2([
        [0, 0, 0],
        [0, 0, 0],
      ]),
      referenceRejectedLogps: t2([
        [0, 0, 0],
        [0, 0, 0],
      ]),
      chosenMask: t2([
        [1, 1, 0],
        [1, 1, 1],
      ]),
      rejectedMask: t2([
        [1, 1, 1],
        [1, 1, 1],
      ]),
    });
    // all pairs: (1 + 2 + 3 + 1 + 1)/5 = 1.6; pair 0 only: 3/2 = 1.5; global count 6: 3/6
    expectClose(run({ loss_type: 'sft' }, inputs()).loss, 1.6, 1e-6, 'all');
    expectClose(
      run({ loss_type: 'sft' }, { ...inputs(), sampleMask: t1([1, 0]) }).loss,
      1.5,
      1e-6,
      'masked',
    );
    expectClose(
      run({ loss_type: 'sft' }, { ...inputs(), sampleMask: t1([1, 0]), globalChosenToks: 6 }).loss,
      0.5,
      1e-6,
      'global',
    );
    expect(() => dpoLoss({ loss_type: 'sft' }, seq())).toThrow(/needs per-token policyChosenLogps/);
  });
});
