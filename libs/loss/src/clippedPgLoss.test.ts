import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { TEST_BACKENDS, useBackend } from '@rxrl/core';
import {
  clippedPgLoss,
  clippedPgLossOptionsSchema,
  keepMetrics,
  readMetricsSync,
  type ClippedPgLossOptionsInput,
} from './index';
import { finiteDiff, matrix, randoms, refClippedPg, type M, type PgData } from '../test/reference';
import { expectClose, expectMatrixClose, gradOf, t1, t2 } from '../test/helpers';

const B = 4;
const T = 5;
const curr = matrix(1, B, T, -3, -0.2);
const jitter = (m: M, seed: number, s: number) => {
  const r = randoms(seed, B * T, -s, s);
  return m.map((row, b) => row.map((v, t) => Math.fround(v + r[b * T + t]!)));
};
const data: PgData = {
  curr,
  prev: jitter(curr, 2, 0.45),
  gen: jitter(jitter(curr, 2, 0.45), 3, 0.15),
  ref: jitter(curr, 4, 0.6),
  adv: [1.5, -0.7, 0.9, -2.1],
  tokenMask: [
    [1, 1, 1, 1, 1],
    [1, 1, 1, 0, 0],
    [1, 1, 0, 0, 0],
    [1, 1, 1, 1, 0],
  ],
  sampleMask: [1, 1, 0, 1],
  rewards: [1, 0, 1, 0.5],
};

function inputs(d: PgData, live?: tf.Tensor2D) {
  return {
    currLogprobs: live ?? t2(d.curr),
    prevLogprobs: d.prev ? t2(d.prev) : undefined,
    generationLogprobs: d.gen ? t2(d.gen) : undefined,
    refLogprobs: d.ref ? t2(d.ref) : undefined,
    advantages: Array.isArray(d.adv[0]) ? t2(d.adv as M) : t1(d.adv as number[]),
    tokenMask: t2(d.tokenMask),
    sampleMask: d.sampleMask ? t1(d.sampleMask) : undefined,
    rewards: d.rewards ? t1(d.rewards) : undefined,
    globalValidToks: d.globalValidToks,
    globalValidSeqs: d.globalValidSeqs,
    globalPositiveToks: d.globalPositiveToks,
    entropies: d.entropies ? t2(d.entropies) : undefined,
  };
}

const CASES: Array<[string, ClippedPgLossOptionsInput, Partial<PgData>?]> = [
  ['default GRPO (k3 KL, token level)', {}],
  [
    'asymmetric clip, k1, sequence-level loss',
    {
      ratio_clip_min: 0.1,
      ratio_clip_max: 0.3,
      reference_policy_kl_type: 'k1',
      token_level_loss: false,
    },
  ],
  [
    'dual clip c = 3 with per-token advantages',
    { ratio_clip_c: 3, reference_policy_kl_penalty: 0 },
    { adv: matrix(9, B, T, -3, 3) },
  ],
  [
    'REINFORCE (disable_ppo_ratio)',
    { disable_ppo_ratio: true, reference_policy_kl_penalty: 0.05, reference_policy_kl_type: 'k2' },
  ],
  ['force_on_policy_ratio', { force_on_policy_ratio: true, reference_policy_kl_penalty: 0.1 }],
  [
    'GSPO sequence-level ratios',
    {
      sequence_level_importance_ratios: true,
      token_level_loss: false,
      ratio_clip_min: 3e-4,
      ratio_clip_max: 4e-4,
    },
  ],
  ['importance sampling correction', { use_importance_sampling_correction: true }],
  [
    'TIS',
    {
      use_importance_sampling_correction: true,
      truncated_importance_sampling_type: 'tis',
      truncated_importance_sampling_ratio: 1.05,
    },
  ],
  [
    'TIS with ratio_min',
    {
      use_importance_sampling_correction: true,
      truncated_importance_sampling_type: 'tis',
      truncated_importance_sampling_ratio: 1.05,
      truncated_importance_sampling_ratio_min: 0.95,
    },
  ],
  [
    'icepop',
    {
      use_importance_sampling_correction: true,
      truncated_importance_sampling_type: 'icepop',
      truncated_importance_sampling_ratio: 1.1,
      truncated_importance_sampling_ratio_min: 0.9,
    },
  ],
  [
    'seq-mask-tis',
    {
      use_importance_sampling_correction: true,
      truncated_importance_sampling_type: 'seq-mask-tis',
      truncated_importance_sampling_ratio: 1.02,
      truncated_importance_sampling_ratio_min: 0.98,
    },
  ],
  ['CISPO', { use_cispo: true, ratio_clip_min: 0.2, ratio_clip_max: 0.28 }],
  [
    'on-policy KL approximation with input / output clamps',
    {
      use_on_policy_kl_approximation: true,
      reference_policy_kl_penalty: 0.2,
      reference_policy_kl_type: 'k2',
      kl_input_clamp_value: 0.3,
      kl_output_clamp_value: 0.03,
    },
  ],
  ['VAPO positive-example NLL', { positive_example_nll_weight: 0.5 }],
  ['SAPO (TRL loss_type sapo)', { use_sapo: true, loss_aggregation: 'grpo' }],
  [
    'SAPO with sequence-level ratios and other temperatures',
    {
      use_sapo: true,
      sequence_level_importance_ratios: true,
      token_level_loss: false,
      sapo_temperature_pos: 4,
      sapo_temperature_neg: 2,
    },
  ],
  ['two-sided clip delta', { delta: 1.3, reference_policy_kl_penalty: 0 }],
  ['off-policy sequence masking', { off_policy_mask_threshold: 0.02 }],
  [
    'top_entropy_quantile 0.3',
    { top_entropy_quantile: 0.3 },
    { entropies: matrix(21, B, T, 0.05, 2.5) },
  ],
  ['loss_aggregation grpo', { loss_aggregation: 'grpo' }],
  ['loss_aggregation bnpo', { loss_aggregation: 'bnpo' }, { globalValidToks: 40 }],
  ['loss_aggregation dr_grpo', { loss_aggregation: 'dr_grpo', max_completion_length: 8 }],
  [
    'loss_aggregation dapo with global normalisers',
    { loss_aggregation: 'dapo' },
    { globalValidToks: 23, globalValidSeqs: 7 },
  ],
];

const METRICS = [
  'loss',
  'actor_loss',
  'probs_ratio',
  'probs_ratio_clamped',
  'kl_penalty',
  'token_mult_prob_error',
  'gen_kl_error',
  'approx_entropy',
  'positive_nll_loss',
  'sampling_importance_ratio',
  'is_oob_ratio',
  'off_policy_mask_ratio',
  'entropy_mask_ratio',
  'kl_loss',
  'nll_loss',
  'entropy_loss',
  'entropy',
];

for (const backend of TEST_BACKENDS) {
  describe(`clippedPgLoss on ${backend}`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });

    it('NeMo RL published case: A [1, −1, 2], ratios [0.5, 1, 1.5], ε 0.2 → −0.6333', () => {
      const prev = [[-1, -1, -1]];
      const r = clippedPgLoss(
        { reference_policy_kl_penalty: 0 },
        {
          currLogprobs: t2([[-1 + Math.log(0.5), -1, -1 + Math.log(1.5)]]),
          prevLogprobs: t2(prev),
          advantages: t2([[1, -1, 2]]),
          tokenMask: t2([[1, 1, 1]]),
        },
      );
      // per token max(−A·r, −A·clip(r)): max(−0.5, −0.8), max(1, 1), max(−3, −2.4) → mean −1.9/3
      expectClose(r.loss.dataSync()[0]!, -1.9 / 3, 1e-6, 'loss');
      const m = readMetricsSync(r.metrics);
      expectClose(m['probs_ratio_min']!, 0.5, 1e-6, 'probs_ratio_min');
      expectClose(m['probs_ratio_clamped_max']!, 1.2, 1e-6, 'probs_ratio_clamped_max');
      r.loss.dispose();
    });

    it('dual clip by hand: A [1, −1, 2, −3], r [0.5, 1, 1.5, 4], c 3 → 7.1/4 (2.525 without)', () => {
      const lp = [[Math.log(0.5), 0, Math.log(1.5), Math.log(4)]];
      const base = {
        currLogprobs: t2(lp),
        prevLogprobs: t2([[0, 0, 0, 0]]),
        advantages: t2([[1, -1, 2, -3]]),
        tokenMask: t2([[1, 1, 1, 1]]),
      };
      const a = clippedPgLoss({ reference_policy_kl_penalty: 0, ratio_clip_c: 3 }, base);
      const b = clippedPgLoss({ reference_policy_kl_penalty: 0 }, base);
      expectClose(a.loss.dataSync()[0]!, 7.1 / 4, 1e-5, 'dual clip');
      expectClose(b.loss.dataSync()[0]!, 10.1 / 4, 1e-5, 'no dual clip');
      readMetricsSync(a.metrics);
      readMetricsSync(b.metrics);
      a.loss.dispose();
      b.loss.dispose();
    });

    it('KL penalty by hand: log π −1, log π_ref −1.5 → k1 0.5, k2 0.125, k3 e^−0.5 − 0.5 = 0.106531', () => {
      for (const [k, v] of [
        ['k1', 0.5],
        ['k2', 0.125],
        ['k3', Math.exp(-0.5) - 0.5],
      ] as const) {
        const r = clippedPgLoss(
          { reference_policy_kl_penalty: 0.1, reference_policy_kl_type: k },
          {
            currLogprobs: t2([[-1]]),
            prevLogprobs: t2([[-1]]),
            refLogprobs: t2([[-1.5]]),
            advantages: t1([0]),
            tokenMask: t2([[1]]),
          },
        );
        const m = readMetricsSync(r.metrics);
        expectClose(m['kl_penalty']!, v, 1e-6, `${k} kl_penalty`);
        expectClose(r.loss.dataSync()[0]!, 0.1 * v, 1e-6, `${k} loss`);
        r.loss.dispose();
      }
    });

    it('KL gradient carries the score-function term: d/dl β·k(l) + β·k(l), l −1, ref −1.5, β 0.1', () => {
      // weight exp(l − sg(l)) = 1 with ∂w/∂l = 1, so ∂/∂l (w·k) = k + ∂k/∂l:
      // k1 = l − ref = 0.5, ∂ = 1 → 1.5;  k2 = (l − ref)²/2 = 0.125, ∂ = 0.5 → 0.625;
      // k3 = e^{ref−l} − 1 − (ref − l), ∂ = 1 − e^{ref−l} → sum = l − ref = 0.5 (NeMo RL).
      // The detached weight would give β·∂k/∂l only (k3: 0.1·(1 − e^{−0.5}) = 0.0393).
      for (const [k, g] of [
        ['k1', 1.5],
        ['k2', 0.625],
        ['k3', 0.5],
      ] as const) {
        const o = { reference_policy_kl_penalty: 0.1, reference_policy_kl_type: k };
        const run = (x: tf.Tensor2D) =>
          clippedPgLoss(o, {
            currLogprobs: x,
            prevLogprobs: t2([[-1, -1]]),
            refLogprobs: t2([[-1.5, -1.5]]),
            advantages: t1([0]),
            tokenMask: t2([[1, 0]]),
          }).loss;
        const grad = gradOf(run, [[-1, -1]]);
        expectClose(grad[0]![0]!, 0.1 * g, 1e-5, `${k} gradient`);
        expectClose(grad[0]![1]!, 0, 1e-7, `${k} masked token gradient`);
      }
    });

    it('on-policy KL weight π/π_gen is differentiated: ∂/∂l β·e^{l−gen}·k3 = β·e^{0.2}·(l − ref)', () => {
      const run = (x: tf.Tensor2D) =>
        clippedPgLoss(
          { reference_policy_kl_penalty: 0.1, use_on_policy_kl_approximation: true },
          {
            currLogprobs: x,
            prevLogprobs: t2([[-1]]),
            generationLogprobs: t2([[-1.2]]),
            refLogprobs: t2([[-1.5]]),
            advantages: t1([0]),
            tokenMask: t2([[1]]),
          },
        ).loss;
      // value β·e^{0.2}·k3; gradient β·e^{0.2}·(k3 + 1 − e^{−0.5}) = β·e^{0.2}·0.5
      const k3 = Math.exp(-0.5) - 0.5;
      const l = tf.tidy(() => run(t2([[-1]])).dataSync()[0]!);
      expectClose(l, 0.1 * Math.exp(0.2) * k3, 1e-6, 'loss');
      expectClose(gradOf(run, [[-1]])[0]![0]!, 0.1 * Math.exp(0.2) * 0.5, 1e-5, 'gradient');
    });

    it('KL input clamp detaches the weight: log(π_ref/π) −0.5 clamped to −0.3 gives gradient 0', () => {
      const run = (x: tf.Tensor2D) =>
        clippedPgLoss(
          { reference_policy_kl_penalty: 0.1, kl_input_clamp_value: 0.3 },
          {
            currLogprobs: x,
            prevLogprobs: t2([[-1]]),
            refLogprobs: t2([[-1.5]]),
            advantages: t1([0]),
            tokenMask: t2([[1]]),
          },
        ).loss;
      const l = tf.tidy(() => run(t2([[-1]])).dataSync()[0]!);
      expectClose(l, 0.1 * (Math.exp(-0.3) - 0.7), 1e-6, 'clamped loss');
      expectClose(gradOf(run, [[-1]])[0]![0]!, 0, 1e-7, 'clamped gradient');
    });

    it('TIS clamps the importance weights to [ratio_min, ratio]: w [0.5, 1, 2] → [0.8, 1, 1.5], loss −1.1', () => {
      // ratio 1 (curr = prev), A = 1: per-token −A·r·w = −w; mean −(0.8 + 1 + 1.5)/3
      const prev = [[0, 0, 0]];
      const r = clippedPgLoss(
        {
          reference_policy_kl_penalty: 0,
          use_importance_sampling_correction: true,
          truncated_importance_sampling_type: 'tis',
          truncated_importance_sampling_ratio: 1.5,
          truncated_importance_sampling_ratio_min: 0.8,
        },
        {
          currLogprobs: t2(prev),
          prevLogprobs: t2(prev),
          generationLogprobs: t2([[-Math.log(0.5), 0, -Math.log(2)]]),
          advantages: t1([1]),
          tokenMask: t2([[1, 1, 1]]),
        },
      );
      expectClose(r.loss.dataSync()[0]!, -3.3 / 3, 1e-6, 'loss');
      expectClose(readMetricsSync(r.metrics)['sampling_importance_ratio']!, 1.1, 1e-6, 'mean w');
      r.loss.dispose();
    });

    it('SAPO by hand: at r = 1 the gate is 4σ(0)/τ = 2/τ and the gradient is −A for any τ', () => {
      // A = [2, −1], τ_pos 1, τ_neg 1.05: per token −A·2/τ → [−4, 2/1.05]; ∂/∂l −A·(4/τ)·σ′(0)·τ·r = −A
      const f = (x: tf.Tensor2D) =>
        clippedPgLoss(
          { use_sapo: true, reference_policy_kl_penalty: 0 },
          {
            currLogprobs: x,
            prevLogprobs: t2([[-1], [-1]]),
            advantages: t1([2, -1]),
            tokenMask: t2([[1], [1]]),
          },
        ).loss;
      const l = tf.tidy(() => f(t2([[-1], [-1]])).dataSync()[0]!);
      expectClose(l, (-4 + 2 / 1.05) / 2, 1e-6, 'loss');
      const g = gradOf(f, [[-1], [-1]]);
      expectClose(g[0]![0]!, -2 / 2, 1e-5, 'A = 2');
      expectClose(g[1]![0]!, 1 / 2, 1e-5, 'A = −1');
    });

    it('delta caps the unclipped ratio: A −1, r 3 → loss 3 without, 2 with δ 2 (and no gradient)', () => {
      const f = (x: tf.Tensor2D, delta: number | null) =>
        clippedPgLoss(
          { delta, reference_policy_kl_penalty: 0 },
          {
            currLogprobs: x,
            prevLogprobs: t2([[0]]),
            advantages: t1([-1]),
            tokenMask: t2([[1]]),
          },
        ).loss;
      const x = [[Math.log(3)]];
      expectClose(
        tf.tidy(() => f(t2(x), null).dataSync()[0]!),
        3,
        1e-5,
        'no delta',
      );
      expectClose(
        tf.tidy(() => f(t2(x), 2).dataSync()[0]!),
        2,
        1e-5,
        'delta 2',
      );
      expectClose(gradOf((v) => f(v, null), x)[0]![0]!, 3, 1e-4, 'gradient r');
      expectClose(gradOf((v) => f(v, 2), x)[0]![0]!, 0, 1e-7, 'gradient capped');
    });

    it('top_entropy_quantile by hand: entropies [0.1, 0.5, 0.9, 0.3] (+ a masked 9), ρ 0.5 → threshold 0.4', () => {
      // valid sorted [0.1, 0.3, 0.5, 0.9]; 0.5-quantile at position 1.5 → 0.3 + 0.5·0.2 = 0.4 → keep tokens 1, 2
      // per token −A·r = −1 (r 1, A 1): loss −2/4; ρ 0 keeps only the maximum 0.9: −1/4
      const run = (rho: number) => {
        const r = clippedPgLoss(
          { top_entropy_quantile: rho, reference_policy_kl_penalty: 0 },
          {
            currLogprobs: t2([[0, 0, 0, 0, 0]]),
            prevLogprobs: t2([[0, 0, 0, 0, 0]]),
            advantages: t1([1]),
            tokenMask: t2([[1, 1, 1, 1, 0]]),
            entropies: t2([[0.1, 0.5, 0.9, 0.3, 9]]),
          },
        );
        const m = readMetricsSync(r.metrics);
        const l = r.loss.dataSync()[0]!;
        r.loss.dispose();
        return [l, m['entropy_mask_ratio']!];
      };
      const [l5, m5] = run(0.5);
      expectClose(l5!, -0.5, 1e-6, 'ρ 0.5 loss');
      expectClose(m5!, 0.5, 1e-6, 'ρ 0.5 masked');
      expectClose(run(0)[0]!, -0.25, 1e-6, 'ρ 0 loss');
      expect(() =>
        clippedPgLoss(
          { top_entropy_quantile: 0.5 },
          {
            currLogprobs: t2([[0]]),
            prevLogprobs: t2([[0]]),
            refLogprobs: t2([[0]]),
            advantages: t1([1]),
            tokenMask: t2([[1]]),
          },
        ),
      ).toThrow(/entropies/);
    });

    it('off-policy sequence masking by hand: A [−1, −1, 2], log(π_gen/π) [0.3, 0.05, 0.3], δ 0.1 → drops sample 0', () => {
      // per token −A·r with r = 1: [1, 1, −2]; kept [0, 1, 1] → (1 − 2)/3; 1/3 of the tokens masked
      const r = clippedPgLoss(
        { off_policy_mask_threshold: 0.1, reference_policy_kl_penalty: 0 },
        {
          currLogprobs: t2([[0], [0], [0]]),
          prevLogprobs: t2([[0], [0], [0]]),
          generationLogprobs: t2([[0.3], [0.05], [0.3]]),
          advantages: t1([-1, -1, 2]),
          tokenMask: t2([[1], [1], [1]]),
        },
      );
      expectClose(r.loss.dataSync()[0]!, -1 / 3, 1e-6, 'loss');
      expectClose(readMetricsSync(r.metrics)['off_policy_mask_ratio']!, 1 / 3, 1e-6, 'ratio');
      r.loss.dispose();
    });

    it('entropy_coef by hand: H [0.5, 1.5] on valid tokens (+ a masked 9), c 0.1 → entropy 1, loss actor − 0.1', () => {
      const r = clippedPgLoss(
        { entropy_coef: 0.1, reference_policy_kl_penalty: 0 },
        {
          currLogprobs: t2([[0, 0, 0]]),
          prevLogprobs: t2([[0, 0, 0]]),
          advantages: t1([1]),
          tokenMask: t2([[1, 1, 0]]),
          policyEntropies: t2([[0.5, 1.5, 9]]),
        },
      );
      const m = readMetricsSync(r.metrics);
      // actor −A·r = −1 per token → −1; entropy mean 1 → −0.1
      expectClose(r.loss.dataSync()[0]!, -1.1, 1e-6, 'loss');
      expectClose(m['entropy']!, 1, 1e-6, 'entropy');
      expectClose(m['entropy_loss']!, -0.1, 1e-6, 'entropy_loss');
      expectClose(
        m['actor_loss']! + m['kl_loss']! + m['nll_loss']! + m['entropy_loss']!,
        m['loss']!,
        1e-6,
        'components add up',
      );
      r.loss.dispose();
      expect(() =>
        clippedPgLoss(
          { entropy_coef: 0.1, reference_policy_kl_penalty: 0 },
          {
            currLogprobs: t2([[0]]),
            prevLogprobs: t2([[0]]),
            advantages: t1([1]),
            tokenMask: t2([[1]]),
          },
        ),
      ).toThrow(/policyEntropies/);
    });

    for (const [what, extra] of [
      ['token mean (dapo)', {}],
      [
        'per-sequence mean (grpo), with KL and VAPO NLL',
        {
          token_level_loss: false,
          reference_policy_kl_penalty: 0.05,
          positive_example_nll_weight: 0.2,
        },
      ],
    ] as const) {
      it(`entropy_coef ${what}: gradient through the logits equals float64 finite differences of the reference`, () => {
        // a policy given directly by its logits [B·T, V]: log π of the targets and H = −Σ p log p from the same logits
        const V = 6;
        const logits0: M = Array.from({ length: B * T }, (_, i) =>
          randoms(100 + i, V, -2, 2).map((v) => Math.fround(v)),
        );
        const targets = Array.from({ length: B * T }, (_, i) => (i * 5) % V);
        const lpAndH = (z: M) => {
          const lp: M = Array.from({ length: B }, () => Array(T).fill(0));
          const H: M = Array.from({ length: B }, () => Array(T).fill(0));
          z.forEach((row, i) => {
            const mx = Math.max(...row);
            const lse = mx + Math.log(row.reduce((a, v) => a + Math.exp(v - mx), 0));
            const b = Math.floor(i / T);
            const t = i % T;
            lp[b]![t] = row[targets[i]!]! - lse;
            H[b]![t] = -row.reduce((a, v) => a + Math.exp(v - lse) * (v - lse), 0);
          });
          return { lp, H };
        };
        const o = clippedPgLossOptionsSchema.parse({ entropy_coef: 0.3, ...extra });
        const base = lpAndH(logits0);
        const d: PgData = { ...data, curr: base.lp, policyEntropies: base.H };
        const refLoss = (z: M) => {
          const { lp, H } = lpAndH(z);
          return refClippedPg(o, { ...d, policyEntropies: H }, lp).loss;
        };
        const before = tf.memory().numTensors;
        const tfLoss = (z: tf.Tensor2D) => {
          const logp = tf.logSoftmax(z);
          const curr = tf.reshape(
            tf.sum(tf.mul(logp, tf.oneHot(tf.tensor1d(targets, 'int32'), V)), -1),
            [B, T],
          ) as tf.Tensor2D;
          const H = tf.reshape(tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), -1)), [
            B,
            T,
          ]) as tf.Tensor2D;
          const { currLogprobs: _c, ...rest } = inputs(d);
          void _c;
          return clippedPgLoss(o, { ...rest, currLogprobs: curr, policyEntropies: H });
        };
        const r = tf.tidy(() => {
          const res = tfLoss(t2(logits0));
          return { loss: res.loss, metrics: res.metrics };
        });
        const m = readMetricsSync(r.metrics);
        const expected = refClippedPg(o, d);
        expectClose(r.loss.dataSync()[0]!, expected.loss, 2e-5, 'loss');
        for (const k of ['entropy', 'entropy_loss', 'actor_loss', 'kl_loss', 'nll_loss'])
          expectClose(m[k]!, expected.metrics[k]!, 2e-5, k);
        expect(expected.metrics['entropy_loss']).toBeLessThan(-0.1);
        r.loss.dispose();
        const g = gradOf((z) => tfLoss(z).loss, logits0);
        const fd = finiteDiff(refLoss, logits0);
        expectMatrixClose(g, fd, 2e-3, 'd loss / d logits');
        // the bonus changes the gradient: without it the two differ
        const g0 = gradOf(
          (z) =>
            clippedPgLoss(
              { ...o, entropy_coef: 0 },
              {
                ...inputs(d),
                currLogprobs: tf.reshape(
                  tf.sum(tf.mul(tf.logSoftmax(z), tf.oneHot(tf.tensor1d(targets, 'int32'), V)), -1),
                  [B, T],
                ) as tf.Tensor2D,
              },
            ).loss,
          logits0,
        );
        expect(Math.max(...g.flat().map((v, i) => Math.abs(v - g0.flat()[i]!)))).toBeGreaterThan(
          1e-3,
        );
        expect(tf.memory().numTensors).toBe(before);
      });
    }

    for (const [name, opts, over] of CASES) {
      it(`${name}: loss, metrics and gradient match the float64 reference`, () => {
        const o = clippedPgLossOptionsSchema.parse(opts);
        const d = { ...data, ...over };
        const expected = refClippedPg(o, d);
        const r = clippedPgLoss(o, inputs(d));
        const m = readMetricsSync(r.metrics);
        for (const k of METRICS) {
          if (expected.metrics[k] === undefined) continue;
          expectClose(m[k]!, expected.metrics[k]!, 2e-5, `${name} ${k}`);
        }
        // the filters must actually drop something, and not everything, for the case to mean anything
        for (const k of ['is_oob_ratio', 'off_policy_mask_ratio', 'entropy_mask_ratio']) {
          if (expected.metrics[k] === undefined) continue;
          expect(expected.metrics[k]).toBeGreaterThan(0);
          expect(expected.metrics[k]).toBeLessThan(1);
        }
        r.loss.dispose();
        const g = gradOf((x) => clippedPgLoss(o, inputs(d, x)).loss, d.curr);
        const fd = finiteDiff((x) => refClippedPg(o, d, x).loss, d.curr);
        expectMatrixClose(g, fd, 2e-3, `${name} grad`);
        expect(g.flat().some((v) => Math.abs(v) > 1e-4)).toBe(true);
      });
    }

    for (const tokenLevel of [true, false]) {
      it(`micro-batch additivity (token_level_loss ${tokenLevel}): losses and accumulated gradients add up`, () => {
        const o = {
          token_level_loss: tokenLevel,
          reference_policy_kl_penalty: 0.05,
          ratio_clip_c: 3,
        };
        const feat = matrix(7, B, T, -1, 1);
        const theta = tf.variable(tf.tensor1d([0.05, -0.1, 0.2, 0.0, -0.3]));
        const sm = data.sampleMask!;
        const nToks = data.tokenMask.reduce(
          (s, r, b) => s + r.reduce((a, v) => a + v, 0) * sm[b]!,
          0,
        );
        const nSeqs = sm.reduce((a, v) => a + v, 0);
        const f = (lo: number, hi: number) => () => {
          const sl = (m: M) => t2(m.slice(lo, hi));
          const currT = tf.add(sl(data.curr), tf.mul(theta, sl(feat))) as tf.Tensor2D;
          return clippedPgLoss(o, {
            currLogprobs: currT,
            prevLogprobs: sl(data.prev!),
            refLogprobs: sl(data.ref!),
            generationLogprobs: sl(data.gen!),
            advantages: t1((data.adv as number[]).slice(lo, hi)),
            tokenMask: sl(data.tokenMask),
            sampleMask: t1(sm.slice(lo, hi)),
            globalValidToks: nToks,
            globalValidSeqs: nSeqs,
          }).loss;
        };
        const full = tf.variableGrads(f(0, 4), [theta]);
        const a = tf.variableGrads(f(0, 1), [theta]);
        const b = tf.variableGrads(f(1, 4), [theta]);
        expectClose(
          a.value.dataSync()[0]! + b.value.dataSync()[0]!,
          full.value.dataSync()[0]!,
          1e-5,
          'loss sum',
        );
        const gs = tf.add(a.grads[theta.name]!, b.grads[theta.name]!).arraySync() as number[];
        const gf = full.grads[theta.name]!.arraySync() as number[];
        gf.forEach((v, i) => expectClose(gs[i]!, v, 1e-5, `grad[${i}]`));
        expect(gf.some((v) => Math.abs(v) > 1e-3)).toBe(true);
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
    }
  });
}

describe('clippedPgLoss options and hygiene', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });

  it('schema rejects contradictory options with the key path', () => {
    const path = (o: unknown) =>
      clippedPgLossOptionsSchema.safeParse(o).error?.issues.map((i) => i.path.join('.'));
    expect(path({ use_cispo: true, ratio_clip_c: 3 })).toContain('ratio_clip_c');
    expect(path({ use_cispo: true, token_level_loss: false })).toContain('use_cispo');
    expect(path({ sequence_level_importance_ratios: true })).toContain(
      'sequence_level_importance_ratios',
    );
    expect(
      path({ truncated_importance_sampling_type: 'tis', use_importance_sampling_correction: true }),
    ).toContain('truncated_importance_sampling_ratio');
    expect(
      path({
        truncated_importance_sampling_type: 'icepop',
        truncated_importance_sampling_ratio: 2,
        use_importance_sampling_correction: true,
      }),
    ).toContain('truncated_importance_sampling_ratio_min');
    expect(
      path({ truncated_importance_sampling_type: 'tis', truncated_importance_sampling_ratio: 2 }),
    ).toContain('truncated_importance_sampling_type');
    expect(path({ loss_aggregation: 'dr_grpo' })).toContain('max_completion_length');
    expect(path({ disable_ppo_ratio: true, force_on_policy_ratio: true })).toContain(
      'force_on_policy_ratio',
    );
    expect(path({ ratio_clip_c: 1 })).toContain('ratio_clip_c');
    expect(path({ epsilon: 0.2 })).toBeDefined();
    expect(clippedPgLossOptionsSchema.safeParse({ use_cispo: true }).success).toBe(true);
  });

  it('missing inputs are named', () => {
    expect(() =>
      clippedPgLoss(
        {},
        {
          currLogprobs: t2([[-1]]),
          prevLogprobs: t2([[-1]]),
          advantages: t1([1]),
          tokenMask: t2([[1]]),
        },
      ),
    ).toThrow(/refLogprobs/);
    expect(() =>
      clippedPgLoss(
        { reference_policy_kl_penalty: 0 },
        { currLogprobs: t2([[-1]]), advantages: t1([1]), tokenMask: t2([[1]]) },
      ),
    ).toThrow(/prevLogprobs/);
    expect(() =>
      clippedPgLoss(
        { reference_policy_kl_penalty: 0 },
        {
          currLogprobs: t2([[-1]]),
          prevLogprobs: t2([[-1, 0]]),
          advantages: t1([1]),
          tokenMask: t2([[1]]),
        },
      ),
    ).toThrow(/prevLogprobs: expected shape \[1, 1\]/);
  });

  it('leak test: 30 steps of loss + gradient + metrics keep tf.memory().numTensors flat', () => {
    const o = clippedPgLossOptionsSchema.parse({
      ratio_clip_c: 3,
      use_importance_sampling_correction: true,
      truncated_importance_sampling_type: 'icepop',
      truncated_importance_sampling_ratio: 1.1,
      truncated_importance_sampling_ratio_min: 0.9,
      positive_example_nll_weight: 0.1,
    });
    const theta = tf.variable(tf.zeros([T]));
    const fixed = tf.tidy(() => inputs(data));
    const step = () => {
      const { value, grads } = tf.variableGrads(() => {
        const r = clippedPgLoss(o, {
          ...fixed,
          currLogprobs: tf.add(fixed.currLogprobs, theta) as tf.Tensor2D,
        });
        keepMetrics(r.metrics);
        metricsOut = r.metrics;
        return r.loss;
      }, [theta]);
      readMetricsSync(metricsOut!);
      value.dispose();
      tf.dispose(Object.values(grads));
    };
    let metricsOut: Record<string, tf.Scalar | number> | undefined;
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 30; i++) step();
    expect(tf.memory().numTensors).toBe(before);
  });
});
