// Every input a loss cannot use is an error that says what is missing, and the
// preference objectives route to the loss they name with the inputs they need.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@rxrl/core';
import {
  clippedPgLoss,
  cpoLoss,
  dpoLoss,
  dpoLossOptionsSchema,
  ktoLoss,
  objectiveNeedsMismatchedKl,
  orpoLoss,
  preferenceObjectiveLoss,
  readMetricsSync,
} from './index';
import { expectClose, t1, t2 } from '../test/helpers';

const sig = (x: number) => 1 / (1 + Math.exp(-x));

describe('loss input errors', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });

  it('dpoLoss: both reference log-probs are required, per-token inputs need masks, averaging needs lengths', () => {
    const p = { policyChosenLogps: t1([-1]), policyRejectedLogps: t1([-2]) };
    expect(() => dpoLoss({}, { ...p, referenceChosenLogps: t1([-1]) })).toThrow(
      /required unless reference_free/,
    );
    expect(() => dpoLoss({}, { ...p, referenceRejectedLogps: t1([-1]) })).toThrow(
      /required unless reference_free/,
    );
    const tok = t2([[-1, -2]]);
    expect(() =>
      dpoLoss(
        {},
        {
          policyChosenLogps: tok,
          policyRejectedLogps: tok,
          referenceChosenLogps: tok,
          referenceRejectedLogps: tok,
        },
      ),
    ).toThrow(/policyChosenLogps is per-token \[B, T\], so its mask/);
    const ref = { referenceChosenLogps: t1([-1]), referenceRejectedLogps: t1([-2]) };
    expect(() => dpoLoss({ preference_average_log_probs: true }, { ...p, ...ref })).toThrow(
      /preference_average_log_probs needs response lengths/,
    );
    expect(() => dpoLoss({ loss_type: 'ipo' }, { ...p, ...ref })).toThrow(
      /ipo needs response lengths/,
    );
  });

  it("dpoLoss: loss_type 'sft' needs per-token log-probs, even when a chosenMask is given", () => {
    expect(() =>
      dpoLoss(
        { loss_type: 'sft', reference_free: true },
        { policyChosenLogps: t1([-1]), policyRejectedLogps: t1([-1]), chosenMask: t2([[1]]) },
      ),
    ).toThrow(/per-token policyChosenLogps \[B, T\] and chosenMask/);
  });

  it('dpoLoss options: ipo needs β > 0 and robust ε < 0.5, each naming its key', () => {
    const paths = (o: object) => {
      const r = dpoLossOptionsSchema.safeParse(o);
      return r.success ? [] : r.error.issues.map((i) => i.path.join('.'));
    };
    expect(paths({ loss_type: 'ipo', reference_policy_kl_penalty: 0 })).toEqual([
      'reference_policy_kl_penalty',
    ]);
    expect(paths({ loss_type: 'robust', label_smoothing: 0.5 })).toEqual(['label_smoothing']);
    expect(paths({ loss_type: 'robust', label_smoothing: 0.49 })).toEqual([]);
  });

  it('dpoLoss returns per-pair values only when asked', () => {
    const inputs = () => ({
      policyChosenLogps: t1([-1, -2]),
      policyRejectedLogps: t1([-2, -2]),
      referenceChosenLogps: t1([-1.5, -2]),
      referenceRejectedLogps: t1([-2, -1]),
    });
    const plain = dpoLoss({ reference_policy_kl_penalty: 1 }, inputs());
    expect(plain.perPair).toBeUndefined();
    const asked = dpoLoss({ reference_policy_kl_penalty: 1 }, { ...inputs(), returnPerPair: true });
    // r_c = (0.5, 0), r_r = (0, −1): per-pair −log σ(0.5), −log σ(1); rewards β·r
    const l = Array.from(asked.perPair!.loss.dataSync());
    expectClose(l[0]!, -Math.log(sig(0.5)), 1e-6, 'pair 0');
    expectClose(l[1]!, -Math.log(sig(1)), 1e-6, 'pair 1');
    expect(Array.from(asked.perPair!.rejected_rewards.dataSync())).toEqual([0, -1]);
    tf.dispose([plain.loss, asked.loss, ...Object.values(asked.perPair!)]);
    readMetricsSync(plain.metrics);
    readMetricsSync(asked.metrics);
  });

  it('clippedPgLoss: positive_example_nll_weight needs rewards', () => {
    const x = t2([[-1, -1]]);
    expect(() =>
      clippedPgLoss(
        { positive_example_nll_weight: 0.1, reference_policy_kl_penalty: 0 },
        { currLogprobs: x, prevLogprobs: x, advantages: t1([1]), tokenMask: t2([[1, 1]]) },
      ),
    ).toThrow(/rewards \[B\] are required/);
  });

  it('ktoLoss: per-token log-probs need their mask; the mismatched-pair KL needs both halves', () => {
    expect(() =>
      ktoLoss(
        { loss_type: 'apo_zero_unpaired' },
        {
          policyLogps: t2([[-1, -2]]),
          referenceLogps: t2([[-1, -2]]),
          desirable: t1([1]),
        },
      ),
    ).toThrow(/policyLogps is per token \[B, T\], so its mask is required/);
    expect(() =>
      ktoLoss(
        {},
        {
          policyLogps: t1([-1]),
          referenceLogps: t1([-1]),
          desirable: t1([1]),
          klPolicyLogps: t1([-1]),
        },
      ),
    ).toThrow(/reference point/);
    expect(() =>
      ktoLoss(
        {},
        {
          policyLogps: t1([-1]),
          referenceLogps: t1([-1]),
          desirable: t1([1]),
          klReferenceLogps: t1([-1]),
        },
      ),
    ).toThrow(/reference point/);
  });

  it('orpoLoss and cpoLoss: per-sequence log-probs need lengths, per-token ones masks', () => {
    const seq = { policyChosenLogps: t1([-1]), policyRejectedLogps: t1([-2]) };
    expect(() => orpoLoss({}, seq)).toThrow(/per sequence \[B\], so its lengths/);
    const tok = { policyChosenLogps: t2([[-1, -1]]), policyRejectedLogps: t2([[-2, -2]]) };
    expect(() => cpoLoss({}, tok)).toThrow(/per token \[B, T\], so its mask/);
  });
});

describe('preference objectives route with their inputs', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });

  it('only kto with loss_type kto needs the mismatched-pair reference point', () => {
    expect(objectiveNeedsMismatchedKl({ name: 'kto' })).toBe(true);
    expect(objectiveNeedsMismatchedKl({ name: 'kto', loss_type: 'apo_zero_unpaired' })).toBe(false);
    expect(objectiveNeedsMismatchedKl({ name: 'orpo' })).toBe(false);
  });

  it('cpo is cpoLoss with the spec options', () => {
    const inputs = () => ({
      policyChosenLogps: t1([-2, -4]),
      policyRejectedLogps: t1([-3, -3]),
      chosenLengths: t1([2, 2]),
      rejectedLengths: t1([1, 1]),
    });
    const a = preferenceObjectiveLoss({ name: 'cpo', beta: 0.3, cpo_alpha: 0.5 }, inputs());
    const b = cpoLoss({ beta: 0.3, cpo_alpha: 0.5 }, inputs());
    expectClose(a.loss.dataSync()[0]!, b.loss.dataSync()[0]!, 1e-7, 'loss');
    tf.dispose([a.loss, b.loss]);
    readMetricsSync(a.metrics);
    readMetricsSync(b.metrics);
  });

  it('kto on per-token pairs sums under the masks; global pairs count twice (chosen and rejected)', () => {
    const r = preferenceObjectiveLoss(
      { name: 'kto', beta: 1, loss_type: 'apo_zero_unpaired' },
      {
        policyChosenLogps: t2([[-1, -2, -9]]),
        policyRejectedLogps: t2([[-3, -9, -9]]),
        referenceChosenLogps: t2([[-2, -2, -9]]),
        referenceRejectedLogps: t2([[-2, -9, -9]]),
        chosenMask: t2([[1, 1, 0]]),
        rejectedMask: t2([[1, 0, 0]]),
        globalValidPairs: 2,
      },
    );
    // ρ_c = −3 − (−4) = 1, ρ_r = −3 − (−2) = −1: (1 − σ(1)) + σ(−1), over 2·2 = 4 samples
    expectClose(r.loss.dataSync()[0]!, (1 - sig(1) + sig(-1)) / 4, 1e-6, 'loss');
    r.loss.dispose();
    readMetricsSync(r.metrics);
    expect(() =>
      preferenceObjectiveLoss(
        { name: 'kto', loss_type: 'apo_zero_unpaired' },
        {
          policyChosenLogps: t1([-1]),
          policyRejectedLogps: t1([-2]),
          referenceChosenLogps: t1([-1]),
        },
      ),
    ).toThrow(/kto needs reference log-probs/);
    expect(() =>
      preferenceObjectiveLoss(
        { name: 'kto', loss_type: 'apo_zero_unpaired' },
        {
          policyChosenLogps: t1([-1]),
          policyRejectedLogps: t1([-2]),
          referenceRejectedLogps: t1([-1]),
        },
      ),
    ).toThrow(/kto needs reference log-probs/);
  });
});
