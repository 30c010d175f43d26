import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { TEST_BACKENDS, useBackend } from '@rxrl/core';
import {
  DPO_LOSS_TYPES,
  dpoLoss,
  dpoLossOptionsSchema,
  readMetricsSync,
  type DpoLossOptionsInput,
} from './index';
import { matrix, randoms, refDpo, finiteDiff, type DpoData } from '../test/reference';
import { expectClose, expectMatrixClose, gradOf, t1, t2 } from '../test/helpers';

const B = 4;
const data: DpoData = {
  pc: randoms(11, B, -6, -2),
  pr: randoms(12, B, -7, -3),
  rc: randoms(13, B, -6, -2),
  rr: randoms(14, B, -6, -2),
  lenC: [3, 5, 2, 4],
  lenR: [4, 2, 6, 3],
};

function run(opts: DpoLossOptionsInput, d: DpoData, pc?: tf.Tensor, pr?: tf.Tensor) {
  return dpoLoss(opts, {
    policyChosenLogps: pc ?? t1(d.pc),
    policyRejectedLogps: pr ?? t1(d.pr),
    referenceChosenLogps: t1(d.rc),
    referenceRejectedLogps: t1(d.rr),
    chosenLengths: t1(d.lenC!),
    rejectedLengths: t1(d.lenR!),
    sampleMask: d.sampleMask ? t1(d.sampleMask) : undefined,
    globalValidPairs: d.globalValidPairs,
    bcoState: d.bcoMean !== undefined ? { mean: d.bcoMean, count: d.bcoCount! } : undefined,
  });
}

const variantOpts = (t: (typeof DPO_LOSS_TYPES)[number]): DpoLossOptionsInput => ({
  reference_policy_kl_penalty: 0.3,
  loss_type: t,
  label_smoothing:
    t === 'exo_pair' || t === 'robust' || t === 'aot' || t === 'aot_unpaired' || t === 'sigmoid'
      ? 0.1
      : 0,
});

for (const backend of TEST_BACKENDS) {
  describe(`dpoLoss on ${backend}`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });

    it("bonuses and margins (the guide's MathDPOTrainer): loss, gradient and each term's metric as derived by hand", () => {
      // β = 0.1; log-ratios chosen [0.5, 0], rejected [−0.5, 0.5]: β·Δ = [0.1, −0.05].
      // bonus math: chosen [2, 0], rejected [0, 0]; margin m: [0.5, 0.25]
      // h = β·Δ + (b_c − b_r) − m = [0.1 + 2 − 0.5, −0.05 + 0 − 0.25] = [1.6, −0.3]
      // loss = mean(−log σ(h)) = (log(1 + e^−1.6) + log(1 + e^0.3)) / 2
      const h = [1.6, -0.3];
      const expected = (Math.log1p(Math.exp(-h[0]!)) + Math.log1p(Math.exp(-h[1]!))) / 2;
      const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
      const f = (x: tf.Tensor2D) => {
        const [c, r] = tf.unstack(x);
        return dpoLoss(
          { reference_policy_kl_penalty: 0.1 },
          {
            policyChosenLogps: c!,
            policyRejectedLogps: r!,
            referenceChosenLogps: t1([-1.5, -2]),
            referenceRejectedLogps: t1([-2.5, -1.5]),
            bonuses: { math_correctness: { chosen: t1([2, 0]), rejected: t1([0, 0]) } },
            margins: { m: t1([0.5, 0.25]) },
          },
        );
      };
      const x = [
        [-1, -2],
        [-3, -1],
      ];
      const before = tf.memory().numTensors;
      const r = tf.tidy(() => f(t2(x)));
      expectClose(r.loss.dataSync()[0]!, expected, 1e-6, 'loss');
      r.loss.dispose();
      const m = readMetricsSync(r.metrics);
      expectClose(m['bonus/math_correctness']!, 1, 1e-6, 'bonus');
      expectClose(m['bonus/math_correctness/chosen']!, 1, 1e-6, 'bonus chosen');
      expectClose(m['bonus/math_correctness/rejected']!, 0, 1e-6, 'bonus rejected');
      expectClose(m['margin/m']!, 0.375, 1e-6, 'margin');
      expectClose(m['implicit_reward_gap']!, 0.025, 1e-6, 'β·Δ');
      expectClose(m['total_reward_gap']!, 0.65, 1e-6, 'h');
      expectClose(m['total_accuracy']!, 0.5, 1e-6, 'h > 0');
      // the log-ratio accuracy and gap are the policy's alone, as without bonuses
      expectClose(m['accuracy']!, 0.5, 1e-6, 'accuracy');
      expectClose(m['reward_gap']!, 0.25, 1e-6, 'Δ');
      // ∂loss/∂log π_c = −β·σ(−h)/B, ∂/∂log π_r = +β·σ(−h)/B; the bonus takes no gradient
      const g = gradOf((v) => f(v).loss, x);
      expectMatrixClose(
        g,
        [h.map((v) => (-0.1 * sigmoid(-v)) / 2), h.map((v) => (0.1 * sigmoid(-v)) / 2)],
        1e-6,
        'gradient',
      );
      expect(tf.memory().numTensors).toBe(before);
    });

    it('bonuses need a loss type of the pair logit β·Δ', () => {
      const inputs = {
        policyChosenLogps: t1([-1]),
        policyRejectedLogps: t1([-2]),
        referenceChosenLogps: t1([-1]),
        referenceRejectedLogps: t1([-2]),
        bonuses: { b: { chosen: t1([1]), rejected: t1([0]) } },
        chosenLengths: t1([1]),
        rejectedLengths: t1([1]),
      };
      expect(() => dpoLoss({ loss_type: 'ipo' }, inputs)).toThrow(
        /bonuses and margins shift the pair logit β·Δ, which loss_type ipo does not use; use sigmoid, hinge/,
      );
      expect(() => dpoLoss({ loss_type: ['sigmoid', 'sft'] }, inputs)).toThrow(/per-token/);
      // the message names the types that ignore the shift, not the sft beside them
      expect(() => dpoLoss({ loss_type: ['ipo', 'sft'] }, inputs)).toThrow(
        /which loss_type ipo does not use/,
      );
      // sft alone has no pair logit either
      expect(() => dpoLoss({ loss_type: 'sft' }, inputs)).toThrow(
        /which loss_type sft does not use/,
      );
      // one bonus value per pair, on each side
      const two = t1([1, 2]);
      expect(() =>
        dpoLoss({}, { ...inputs, bonuses: { b: { chosen: two, rejected: t1([0]) } } }),
      ).toThrow('dpoLoss bonuses.b.chosen: expected shape [1], got [2]');
      expect(() =>
        dpoLoss({}, { ...inputs, bonuses: { b: { chosen: t1([1]), rejected: two } } }),
      ).toThrow('dpoLoss bonuses.b.rejected: expected shape [1], got [2]');
      tf.dispose(Object.values(inputs).filter((v): v is tf.Tensor1D => v instanceof tf.Tensor));
    });

    it('β = 0 is accepted (NeMo RL): sigmoid loss log 2 with zero gradient; the SFT term still trains', () => {
      // −log σ(0·Δ) = log 2 per pair; with sft_loss_weight 0.5 the loss adds 0.5·mean(−log π_c)
      // and ∂/∂log π_c = −0.5/B, ∂/∂log π_r = 0
      const pc = [-1, -2];
      const f = (x: tf.Tensor2D) => {
        const [c, r] = tf.unstack(x);
        return dpoLoss(
          { reference_policy_kl_penalty: 0, sft_loss_weight: 0.5 },
          {
            policyChosenLogps: c!,
            policyRejectedLogps: r!,
            referenceChosenLogps: t1([-2, -2]),
            referenceRejectedLogps: t1([-1, -1]),
          },
        );
      };
      const r = tf.tidy(() => f(t2([pc, [-3, -4]])));
      expectClose(r.loss.dataSync()[0]!, Math.LN2 + 0.5 * 1.5, 1e-6, 'loss');
      expectClose(readMetricsSync(r.metrics)['preference_loss']!, Math.LN2, 1e-6, 'preference');
      r.loss.dispose();
      const g = gradOf((x) => f(x).loss, [pc, [-3, -4]]);
      expectMatrixClose(
        g,
        [
          [-0.25, -0.25],
          [0, 0],
        ],
        1e-6,
        'gradient',
      );
      expect(() =>
        dpoLossOptionsSchema.parse({ reference_policy_kl_penalty: 0, loss_type: 'ipo' }),
      ).toThrow(/β must be > 0/);
    });

    it('per-pair outputs by hand: losses, β-scaled rewards and log-probs; their mean is the loss', () => {
      // pair 0: log-ratios 1 and −2 → −log σ(0.1·3) = log(1 + e^−0.3); pair 1: both 0 → log 2; SFT 0.5·(−log π_c)
      const r = dpoLoss(
        { reference_policy_kl_penalty: 0.1, sft_loss_weight: 0.5 },
        {
          policyChosenLogps: t1([-1, -2]),
          referenceChosenLogps: t1([-2, -2]),
          policyRejectedLogps: t1([-3, -2]),
          referenceRejectedLogps: t1([-1, -2]),
          returnPerPair: true,
        },
      );
      const p = r.perPair!;
      const want = [Math.log1p(Math.exp(-0.3)) + 0.5, Math.LN2 + 1];
      const got = Array.from(p.loss.dataSync());
      want.forEach((w, i) => expectClose(got[i]!, w, 1e-6, `loss[${i}]`));
      expectClose(r.loss.dataSync()[0]!, (want[0]! + want[1]!) / 2, 1e-6, 'mean');
      expect(Array.from(p.chosen_rewards.dataSync()).map((v) => +v.toFixed(6))).toEqual([0.1, 0]);
      expect(Array.from(p.rejected_rewards.dataSync()).map((v) => +v.toFixed(6))).toEqual([
        -0.2, 0,
      ]);
      expect(Array.from(p.chosen_logps.dataSync())).toEqual([-1, -2]);
      expect(Array.from(p.rejected_logps.dataSync())).toEqual([-3, -2]);
      const m = readMetricsSync(r.metrics);
      expectClose(m['logps_chosen_mean']!, -1.5, 1e-6, 'logps_chosen_mean');
      expectClose(m['logps_rejected_mean']!, -2.5, 1e-6, 'logps_rejected_mean');
      tf.dispose([r.loss, ...Object.values(p)]);
    });

    it('per-pair losses average to the loss for every pair loss type (masked pair left out)', () => {
      for (const t of DPO_LOSS_TYPES.filter((x) => x !== 'sft')) {
        const d = { ...data, sampleMask: [1, 0, 1, 1] };
        const r = dpoLoss(
          { ...variantOpts(t), sft_loss_weight: 0.2 },
          {
            policyChosenLogps: t1(d.pc),
            policyRejectedLogps: t1(d.pr),
            referenceChosenLogps: t1(d.rc),
            referenceRejectedLogps: t1(d.rr),
            chosenLengths: t1(d.lenC!),
            rejectedLengths: t1(d.lenR!),
            sampleMask: t1(d.sampleMask),
            returnPerPair: true,
          },
        );
        const per = Array.from(r.perPair!.loss.dataSync());
        const mean = per.reduce((a, v, i) => a + v * d.sampleMask[i]!, 0) / 3;
        expectClose(mean, r.loss.dataSync()[0]!, 1e-5, `${t}`);
        readMetricsSync(r.metrics);
        tf.dispose([r.loss, ...Object.values(r.perPair!)]);
      }
    });

    it('sigmoid closed form: β 0.1, log-ratios 1 and −2 → log(1 + e^−0.3) = 0.554355', () => {
      const r = dpoLoss(
        { reference_policy_kl_penalty: 0.1 },
        {
          policyChosenLogps: t1([-1]),
          referenceChosenLogps: t1([-2]),
          policyRejectedLogps: t1([-3]),
          referenceRejectedLogps: t1([-1]),
        },
      );
      const m = readMetricsSync(r.metrics);
      expectClose(r.loss.dataSync()[0]!, Math.log(1 + Math.exp(-0.3)), 1e-6, 'loss');
      expect(m['accuracy']).toBe(1);
      expectClose(m['rewards_chosen_mean']!, 1, 1e-6, 'rewards_chosen_mean');
      expectClose(m['rewards_rejected_mean']!, -2, 1e-6, 'rewards_rejected_mean');
      r.loss.dispose();
    });

    it('NeMo RL weighting: per-token inputs, w_p·pref + w_s·(averaged chosen NLL), masked pair and global normaliser', () => {
      const chosen = [
        [-1, -2, 0],
        [-0.5, -0.5, -0.5],
      ];
      const rejected = [
        [-3, 0, 0],
        [-1, -1, 0],
      ];
      const cm = [
        [1, 1, 0],
        [1, 1, 1],
      ];
      const rm = [
        [1, 0, 0],
        [1, 1, 0],
      ];
      const ref = [
        [-1.5, -1.5, -9],
        [-1, -1, -1],
      ];
      const refR = [
        [-2, -9, -9],
        [-1, -0.5, -9],
      ];
      const r = dpoLoss(
        {
          reference_policy_kl_penalty: 0.5,
          preference_loss_weight: 0.7,
          sft_loss_weight: 0.3,
          sft_average_log_probs: true,
        },
        {
          policyChosenLogps: t2(chosen),
          policyRejectedLogps: t2(rejected),
          referenceChosenLogps: t2(ref),
          referenceRejectedLogps: t2(refR),
          chosenMask: t2(cm),
          rejectedMask: t2(rm),
          sampleMask: t1([1, 0]),
          globalValidPairs: 2,
        },
      );
      // pair 0: r_c = (−1+1.5)+(−2+1.5) = 0, r_r = −3+2 = −1; pair 1 masked out; normaliser 2 pairs
      const pref = -Math.log(1 / (1 + Math.exp(-0.5 * 1))) / 2;
      const sft = 3 / 2 / 2; // chosen NLL averaged over its 2 tokens, over 2 global pairs
      const m = readMetricsSync(r.metrics);
      expectClose(m['preference_loss']!, pref, 1e-6, 'preference_loss');
      expectClose(m['sft_loss']!, sft, 1e-6, 'sft_loss');
      expectClose(r.loss.dataSync()[0]!, 0.7 * pref + 0.3 * sft, 1e-6, 'loss');
      expectClose(m['accuracy']!, 0.5, 1e-6, 'accuracy');
      expectClose(m['rewards_rejected_mean']!, -0.5, 1e-6, 'rewards_rejected_mean');
      r.loss.dispose();
    });

    for (const t of DPO_LOSS_TYPES.filter((x) => x !== 'sft')) {
      it(`${t}: value and gradient match the float64 TRL formula and its finite differences`, () => {
        const o = dpoLossOptionsSchema.parse(variantOpts(t));
        const d: DpoData = t === 'bco_pair' ? { ...data, bcoMean: 0.2, bcoCount: 3 } : data;
        const r = run(o, d);
        const expected = refDpo(o, d);
        expectClose(r.loss.dataSync()[0]!, expected.loss, 2e-5, `${t} loss`);
        const m = readMetricsSync(r.metrics);
        expectClose(m['accuracy']!, expected.metrics['accuracy']!, 1e-6, 'accuracy');
        expectClose(m['reward_gap']!, expected.metrics['reward_gap']!, 1e-5, 'reward_gap');
        if (t === 'bco_pair')
          expectClose(r.bcoState!.mean, expected.metrics['bco_mean']!, 1e-5, 'bco running mean');
        r.loss.dispose();
        // gradient w.r.t. [pc; pr] stacked as a 2×B matrix
        const x = [d.pc, d.pr];
        const g = gradOf((v) => {
          const [pc, pr] = tf.unstack(v);
          const res = run(o, d, pc, pr);
          return res.loss;
        }, x);
        const fd = finiteDiff((v) => refDpo(o, d, { pc: v[0]!, pr: v[1]! }).loss, x);
        expectMatrixClose(g, fd, 2e-3, `${t} grad`);
      });
    }

    it('f-divergences and several loss types at once with weights', () => {
      for (const f of ['forward_kl', 'js_divergence', 'alpha_divergence'] as const) {
        const o = dpoLossOptionsSchema.parse({
          reference_policy_kl_penalty: 0.2,
          f_divergence_type: f,
          f_alpha_divergence_coef: 0.5,
          loss_type: ['sigmoid', 'hinge', 'ipo'],
          loss_weights: [1, 0.5, 0.25],
          sft_loss_weight: 0.1,
          preference_average_log_probs: true,
        });
        const r = run(o, data);
        const e = refDpo(o, data);
        const m = readMetricsSync(r.metrics);
        expectClose(r.loss.dataSync()[0]!, e.loss, 2e-5, `${f} loss`);
        for (const t of ['sigmoid', 'hinge', 'ipo']) {
          const k = `preference_loss/${t}`;
          expectClose(m[k]!, e.metrics[k]!, 2e-5, `${f} ${t} term`);
        }
        r.loss.dispose();
        const g = gradOf(
          (v) => {
            const [pc, pr] = tf.unstack(v);
            return run(o, data, pc, pr).loss;
          },
          [data.pc, data.pr],
        );
        const fd = finiteDiff(
          (v) => refDpo(o, data, { pc: v[0]!, pr: v[1]! }).loss,
          [data.pc, data.pr],
        );
        expectMatrixClose(g, fd, 2e-3, `${f} grad`);
      }
    });

    it("loss_type 'sft' is the token mean of the chosen NLL (needs per-token inputs)", () => {
      const tok = matrix(21, 2, 3, -3, -0.5);
      const cm = [
        [1, 1, 1],
        [1, 0, 0],
      ];
      const r = dpoLoss(
        { loss_type: ['sigmoid', 'sft'], loss_weights: [1, 2] },
        {
          policyChosenLogps: t2(tok),
          policyRejectedLogps: t1([-4, -4]),
          referenceChosenLogps: t2(tok),
          referenceRejectedLogps: t1([-4, -4]),
          chosenMask: t2(cm),
        },
      );
      const nll = -(tok[0]![0]! + tok[0]![1]! + tok[0]![2]! + tok[1]![0]!) / 4;
      // sigmoid term: all log-ratios are 0 → log 2
      expectClose(r.loss.dataSync()[0]!, Math.LN2 + 2 * nll, 1e-5, 'loss');
      readMetricsSync(r.metrics);
      r.loss.dispose();
      expect(() =>
        dpoLoss(
          { loss_type: 'sft' },
          {
            policyChosenLogps: t1([-1]),
            policyRejectedLogps: t1([-1]),
            referenceChosenLogps: t1([-1]),
            referenceRejectedLogps: t1([-1]),
          },
        ),
      ).toThrow(/sft/);
    });

    it('micro-batch additivity: losses and accumulated gradients of two halves equal the full batch', () => {
      const T = 3;
      const chosen = matrix(31, B, T, -3, -0.1);
      const rejected = matrix(32, B, T, -3, -0.1);
      const refC = matrix(33, B, T, -3, -0.1);
      const refR = matrix(34, B, T, -3, -0.1);
      const cm = [
        [1, 1, 0],
        [1, 1, 1],
        [1, 0, 0],
        [1, 1, 0],
      ];
      const rm = [
        [1, 1, 1],
        [1, 0, 0],
        [1, 1, 0],
        [1, 1, 1],
      ];
      const sm = [1, 1, 0, 1];
      const o = {
        reference_policy_kl_penalty: 0.4,
        sft_loss_weight: 0.5,
        loss_type: ['sigmoid', 'ipo', 'sft'] as const,
        loss_weights: [1, 0.3, 0.2],
      };
      const theta = tf.variable(tf.tensor1d([0.1, -0.2, 0.3]));
      const f = (lo: number, hi: number) => () => {
        const sl = <T extends number[][]>(m: T) => t2(m.slice(lo, hi));
        const pc = tf.add(sl(chosen), tf.mul(theta, sl(refC))) as tf.Tensor2D;
        const pr = tf.add(sl(rejected), tf.mul(theta, sl(refR))) as tf.Tensor2D;
        return dpoLoss(
          { ...o, loss_type: [...o.loss_type] },
          {
            policyChosenLogps: pc,
            policyRejectedLogps: pr,
            referenceChosenLogps: sl(refC),
            referenceRejectedLogps: sl(refR),
            chosenMask: sl(cm),
            rejectedMask: sl(rm),
            sampleMask: t1(sm.slice(lo, hi)),
            globalValidPairs: 3,
            globalChosenToks: 6,
          },
        ).loss;
      };
      const full = tf.variableGrads(f(0, 4), [theta]);
      const a = tf.variableGrads(f(0, 2), [theta]);
      const b = tf.variableGrads(f(2, 4), [theta]);
      expectClose(
        a.value.dataSync()[0]! + b.value.dataSync()[0]!,
        full.value.dataSync()[0]!,
        1e-5,
        'loss sum',
      );
      const gs = tf.add(a.grads[theta.name]!, b.grads[theta.name]!).arraySync() as number[];
      (full.grads[theta.name]!.arraySync() as number[]).forEach((v, i) =>
        expectClose(gs[i]!, v, 1e-5, `grad[${i}]`),
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

    it('leak test: 20 bco_pair + aot steps with gradients keep numTensors flat; the running mean is carried', () => {
      const o = dpoLossOptionsSchema.parse({
        loss_type: ['bco_pair', 'aot'],
        label_smoothing: 0.1,
      });
      let state = { mean: 0, count: 1e-24 };
      const step = () => {
        const { value, grads } = tf.variableGrads(() => {
          const r = dpoLoss(o, {
            ...tf.tidy(() => ({
              policyChosenLogps: t1(data.pc),
              policyRejectedLogps: t1(data.pr),
              referenceChosenLogps: t1(data.rc),
              referenceRejectedLogps: t1(data.rr),
            })),
            bcoState: state,
          });
          state = r.bcoState!;
          readMetricsSync(r.metrics);
          return tf.mul(r.loss, theta) as tf.Scalar;
        }, [theta]);
        value.dispose();
        tf.dispose(Object.values(grads));
      };
      const theta = tf.variable(tf.scalar(1));
      step();
      const before = tf.memory().numTensors;
      for (let i = 0; i < 20; i++) step();
      expect(tf.memory().numTensors).toBe(before);
      // the batch is the same each step, so the running mean sits at the batch mean β·(mean r_c + mean r_r)/2
      const e = refDpo(o, { ...data });
      expectClose(state.mean, e.metrics['bco_mean']!, 1e-5, 'running mean');
      expect(state.count).toBeCloseTo(21, 6);
      theta.dispose();
    });

    it('schema rejects contradictions with the key path', () => {
      const r1 = dpoLossOptionsSchema.safeParse({
        loss_type: ['sigmoid', 'ipo'],
        loss_weights: [1],
      });
      expect(r1.success).toBe(false);
      expect(r1.error!.issues[0]!.path).toEqual(['loss_weights']);
      const r2 = dpoLossOptionsSchema.safeParse({ loss_type: 'exo_pair' });
      expect(r2.error!.issues[0]!.path).toEqual(['label_smoothing']);
      expect(dpoLossOptionsSchema.safeParse({ beta: 0.1 }).success).toBe(false);
    });
  });
}
