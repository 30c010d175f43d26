// Every metric clippedPgLoss returns, and the global counts that make
// micro-batch losses add up, asserted with numbers computed by hand in float64
// from the formulas in the doc comments (NeMo RL's ClippedPGLossFn); the script
// that printed them is in the comment above each table.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@rxrl/core';
import { clippedPgLoss, readMetricsSync, type ClippedPgLossOptionsInput } from './index';
import { expectClose, t1, t2 } from '../test/helpers';
import type { M } from '../test/reference';

// B = 3, T = 3. Sample 2 is dropped (sampleMask 0) and tokens (0, 2), (1, 2) are
// padding: their ratios exp(1.7) = 5.47 and exp(−2.9) = 0.055 lie outside the valid
// ratios on both sides, so a min/max that forgets the mask is caught.
const curr: M = [
  [-1.0, -2.0, -0.3],
  [-0.5, -1.5, -3.0],
  [-2.0, -0.4, -1.0],
];
const prev: M = [
  [-1.3, -1.8, -2.0],
  [-0.5, -0.9, -0.1],
  [-1.0, -0.4, -1.0],
];
const gen: M = [
  [-1.1, -2.1, -0.3],
  [-0.8, -1.2, -1.0],
  [-2.0, -0.6, -1.0],
];
const ref: M = [
  [-1.2, -1.9, -1.0],
  [-0.7, -1.0, -1.0],
  [-1.0, -1.0, -1.0],
];
const ent: M = [
  [0.9, 0.4, 2.0],
  [1.2, 0.7, 2.0],
  [0.1, 0.1, 0.1],
];
const tokenMask: M = [
  [1, 1, 0],
  [1, 1, 0],
  [1, 1, 1],
];

function run(options: ClippedPgLossOptionsInput, extra: Record<string, unknown> = {}) {
  const r = clippedPgLoss(options, {
    currLogprobs: t2(curr),
    prevLogprobs: t2(prev),
    generationLogprobs: t2(gen),
    refLogprobs: t2(ref),
    advantages: t1([1.5, -0.8, 2.0]),
    tokenMask: t2(tokenMask),
    sampleMask: t1([1, 1, 0]),
    rewards: t1([1, 0, 1]),
    ...extra,
  });
  const loss = r.loss.dataSync()[0]!;
  r.loss.dispose();
  return { loss, m: readMetricsSync(r.metrics) };
}

describe('clippedPgLoss metrics, by hand', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });

  it('every metric of a PPO step with k3 KL (β 0.1), VAPO NLL (μ 0.5) and an entropy bonus (c 0.01)', () => {
    const { loss, m } = run(
      { reference_policy_kl_penalty: 0.1, positive_example_nll_weight: 0.5, entropy_coef: 0.01 },
      { policyEntropies: t2(ent) },
    );
    // python3, float64, over the 4 valid tokens V: r = exp(curr − prev), clip to [0.8, 1.2],
    // actor = mean_V max(−A·r, −A·clip(r)); k3(a, b) = e^(b−a) − (b−a) − 1;
    // kl = 0.1·mean_V k3(curr, ref); nll = −mean of curr over sample 0's tokens = 1.5;
    // js: m = log(½e^prev + ½e^gen), mean_V ½k(prev) + ½k(gen), k(x) = e^(x−m) − (x−m) − 1
    const expected: Record<string, number> = {
      loss: 0.3497598,
      actor_loss: -0.397024,
      kl_loss: 0.004783842,
      nll_loss: 0.75,
      entropy_loss: -0.008,
      probs_ratio: 0.9293503,
      probs_ratio_clamped: 0.9546827,
      probs_ratio_min: 0.5488116, // e^−0.6
      probs_ratio_max: 1.349859, // e^0.3
      probs_ratio_clamped_min: 0.8,
      probs_ratio_clamped_max: 1.2,
      kl_penalty: 0.04783842,
      token_mult_prob_error: 1.317745, // mean_V e^|gen − prev|
      gen_kl_error: 0.04207679, // mean_V k3(gen, prev)
      policy_kl_error: 0.03596436, // mean_V k3(prev, gen)
      js_divergence_error: 0.00965397,
      sampling_importance_ratio: 1.217077, // mean_V e^(prev − gen)
      approx_entropy: 1.275417, // −mean_V e^(curr − gen)·curr
      num_valid_samples: 2,
      positive_nll_loss: 1.5,
      entropy: 0.8, // mean_V of the policy entropies
    };
    expect(Object.keys(m).sort()).toEqual(Object.keys(expected).sort());
    for (const [k, v] of Object.entries(expected)) expectClose(m[k]!, v, 1e-5, k);
    expectClose(loss, expected['loss']!, 1e-5, 'loss');
  });

  it('seq-mask-tis with asymmetric bounds [0.5, 1.2] keeps row 0 (geo-mean weight 1.051), drops row 1 (1.350)', () => {
    // the inverted weight e^(gen − prev) would keep both rows (0.951 and 0.741)
    const { loss, m } = run({
      reference_policy_kl_penalty: 0,
      use_importance_sampling_correction: true,
      truncated_importance_sampling_type: 'seq-mask-tis',
      truncated_importance_sampling_ratio: 1.2,
      truncated_importance_sampling_ratio_min: 0.5,
    });
    // actor = Σ_V kept_b·e^(prev − gen)·clipLoss / 4
    expectClose(loss, -0.7828679, 1e-5, 'loss');
    expectClose(m['is_oob_ratio']!, 0.5, 1e-6, 'is_oob_ratio'); // 1 of the 2 valid samples
    expectClose(m['sampling_importance_ratio']!, 0.5421474, 1e-5, 'sampling_importance_ratio');
  });

  it('icepop [0.85, 1.4] zeroes the one token whose weight e^−0.2 = 0.819 is below the bound', () => {
    const { loss, m } = run({
      reference_policy_kl_penalty: 0,
      use_importance_sampling_correction: true,
      truncated_importance_sampling_type: 'icepop',
      truncated_importance_sampling_ratio: 1.4,
      truncated_importance_sampling_ratio_min: 0.85,
    });
    expectClose(loss, 0.07151008, 1e-5, 'loss');
    expectClose(m['is_oob_ratio']!, 0.25, 1e-6, 'is_oob_ratio');
  });

  it('tis clamps the weights to [min 0.9, max 1.2]', () => {
    const { loss } = run({
      reference_policy_kl_penalty: 0,
      use_importance_sampling_correction: true,
      truncated_importance_sampling_type: 'tis',
      truncated_importance_sampling_ratio: 1.2,
      truncated_importance_sampling_ratio_min: 0.9,
    });
    expectClose(loss, -0.3414288, 1e-5, 'loss');
  });

  it('GSPO sequence-level weights: sampling_importance_ratio is the mean over valid samples of e^Σ(prev − gen)', () => {
    // valid tokens of row 0: prev − gen = (−0.2, 0.3) → e^0.1; row 1: (0.3, 0.3) → e^0.6; row 2 dropped
    const opts: ClippedPgLossOptionsInput = {
      reference_policy_kl_penalty: 0,
      sequence_level_importance_ratios: true,
      token_level_loss: false,
    };
    const local = run(opts).m;
    expectClose(
      local['sampling_importance_ratio']!,
      (Math.exp(0.1) + Math.exp(0.6)) / 2,
      1e-6,
      'over the 2 valid samples',
    );
    expect(local['kl_penalty']).toBe(0); // β 0: no division by it
    const global = run(opts, { globalValidSeqs: 5 }).m;
    expectClose(
      global['sampling_importance_ratio']!,
      (Math.exp(0.1) + Math.exp(0.6)) / 5,
      1e-6,
      'over 5 global samples',
    );
  });

  it('dr_grpo divides the token sum by globalValidSeqs · max_completion_length', () => {
    const opts: ClippedPgLossOptionsInput = {
      reference_policy_kl_penalty: 0,
      loss_aggregation: 'dr_grpo',
      max_completion_length: 4,
    };
    // Σ_V clipLoss = −1.588096: / (3·4) with this batch's 3 rows (TRL: the batch size, masked
    // rows included), / (5·4) with 5 global sequences
    expectClose(run(opts).loss, -1.588096 / 12, 1e-5, 'local');
    expectClose(run(opts, { globalValidSeqs: 5 }).loss, -1.588096 / 20, 1e-5, 'global');
  });
});

describe('clippedPgLoss micro-batches add up to the global batch with global counts', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });

  // 4 samples of 3 tokens; rewards > 0 for samples 0 and 3 (VAPO's positive NLL)
  const c4: M = [...curr, [-0.7, -1.1, -0.2]];
  const p4: M = [...prev, [-0.9, -1.0, -0.6]];
  const r4: M = [...ref, [-0.6, -1.3, -0.5]];
  const tm4: M = [
    [1, 1, 0],
    [1, 0, 0],
    [1, 1, 1],
    [1, 1, 1],
  ];
  const adv = [1.5, -0.8, 2.0, -1.1];
  const rewards = [1, 0, 0, 2];
  // valid tokens 9, valid samples 4, tokens of positive samples 2 + 3 = 5
  const globals = { globalValidToks: 9, globalValidSeqs: 4, globalPositiveToks: 5 };
  const part = (o: ClippedPgLossOptionsInput, from: number, to: number, g = {}) => {
    const r = clippedPgLoss(o, {
      currLogprobs: t2(c4.slice(from, to)),
      prevLogprobs: t2(p4.slice(from, to)),
      refLogprobs: t2(r4.slice(from, to)),
      advantages: t1(adv.slice(from, to)),
      tokenMask: t2(tm4.slice(from, to)),
      rewards: t1(rewards.slice(from, to)),
      ...g,
    });
    const loss = r.loss.dataSync()[0]!;
    r.loss.dispose();
    return { loss, m: readMetricsSync(r.metrics) };
  };

  for (const [name, o] of [
    ['dapo', { loss_aggregation: 'dapo' }],
    ['grpo', { loss_aggregation: 'grpo' }],
    ['dr_grpo', { loss_aggregation: 'dr_grpo', max_completion_length: 3 }],
  ] as const) {
    it(`${name} with k3 KL and positive-example NLL: loss(0..1) + loss(2..3) = loss(0..3)`, () => {
      const opts: ClippedPgLossOptionsInput = {
        ...o,
        reference_policy_kl_penalty: 0.2,
        positive_example_nll_weight: 0.3,
      };
      const whole = part(opts, 0, 4);
      const a = part(opts, 0, 2, globals);
      const b = part(opts, 2, 4, globals);
      expectClose(a.loss + b.loss, whole.loss, 1e-5, 'loss');
      for (const k of ['actor_loss', 'kl_loss', 'nll_loss', 'probs_ratio'])
        expectClose(a.m[k]! + b.m[k]!, whole.m[k]!, 1e-5, k);
      // the positive NLL alone: −(Σ curr over samples 0 and 3) / 5 tokens
      expectClose(whole.m['positive_nll_loss']!, (1.0 + 2.0 + 0.7 + 1.1 + 0.2) / 5, 1e-6, 'nll');
    });
  }

  it('no tensors leak', () => {
    const before = tf.memory().numTensors;
    part({}, 0, 4);
    // the inputs built by part() are the only tensors left (6 of them)
    expect(tf.memory().numTensors - before).toBe(6);
  });
});
