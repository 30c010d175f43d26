// Advantage estimators, reward scaling and shaping on inputs chosen so that a
// swapped sign, a dropped epsilon or a flipped flag changes the numbers: source
// ranges that do not start at 0, groups of unequal size, a non-zero std epsilon.
// Expected values by hand in float64 (python3, from the formulas in the doc comments).
import { describe, expect, it } from 'vitest';
import { computeAdvantages } from './computeAdvantages';
import { RewardScalingOptionsSchema, scaleRewards } from './rewardScaling';
import { RewardShapingOptionsSchema, shapeRewards } from './rewardShaping';
import { whitenWeightedInPlace, WHITEN_VAR_FLOOR } from './whiten';
import { AdvantageOptionsSchema } from './advantageOptions';

const close = (got: ArrayLike<number>, want: number[], digits = 5) => {
  expect(got.length).toBe(want.length);
  want.forEach((w, i) => expect(got[i]).toBeCloseTo(w, digits));
};

describe('reward scaling', () => {
  it('source [−1, 3] → target [0, 1]: (clamp(r) + 1)/4', () => {
    const out = scaleRewards(Float32Array.of(-2, -1, 0, 1, 3, 5, Number.NaN), {
      enabled: true,
      source_min: -1,
      source_max: 3,
    });
    close(out.subarray(0, 6), [0, 0, 0.25, 0.5, 1, 1]);
    expect(out[6]).toBeNaN();
  });

  it('source [2, 4] → target [−1, 1]: −1 + (clamp(r) − 2)·1', () => {
    const out = scaleRewards(Float32Array.of(1, 2.5, 3, 4.5), {
      enabled: true,
      source_min: 2,
      source_max: 4,
      target_min: -1,
      target_max: 1,
    });
    close(out, [-1, -0.5, 0, 1]);
  });

  it('is off by default (a copy, even with a range set)', () => {
    const r = Float32Array.of(-2, 7);
    const out = scaleRewards(r, { source_min: -1, source_max: 3 });
    expect(Array.from(out)).toEqual([-2, 7]);
    expect(out).not.toBe(r);
    expect(RewardScalingOptionsSchema.parse({})).toEqual({
      enabled: false,
      source_min: 0,
      source_max: 1,
      target_min: 0,
      target_max: 1,
    });
  });
});

describe('reward shaping', () => {
  it('is off by default: no penalty even with every option set', () => {
    const r = Float32Array.of(1, 1);
    const out = shapeRewards(
      {
        rewards: r,
        responseLengths: Int32Array.of(10, 10),
        finishReasons: ['length', 'stop'],
      },
      {
        overlong_buffer_length: 4,
        overlong_buffer_penalty: 1,
        max_response_length: 10,
        stop_properly_penalty_coef: 0.5,
      },
    );
    expect(Array.from(out)).toEqual([1, 1]);
    expect(RewardShapingOptionsSchema.parse({}).enabled).toBe(false);
    expect(RewardShapingOptionsSchema.parse({}).cap_overlong_penalty).toBe(false);
  });

  it('enabled: truncated ×0.5, then the overlong ramp (length 9 of 10, buffer 4: −3/4)', () => {
    const out = shapeRewards(
      {
        rewards: Float32Array.of(2, 2, 2),
        responseLengths: Int32Array.of(9, 6, 12),
        finishReasons: ['length', 'stop', 'length'],
      },
      {
        enabled: true,
        overlong_buffer_length: 4,
        overlong_buffer_penalty: 1,
        max_response_length: 10,
        stop_properly_penalty_coef: 0.5,
      },
    );
    // 2·0.5 − (9 − 6)/4; 2 − 0 (6 is the start of the buffer); 2·0.5 − (12 − 6)/4 uncapped
    close(out, [0.25, 2, -0.5]);
  });
});

describe('grpo advantages with a std epsilon', () => {
  const rewards = Float32Array.of(1, 2, 4, 0);
  const groupIds = Int32Array.of(0, 0, 1, 1);

  it("scale 'batch': (r − group mean)/(batch std + ε), batch std √(8.75/3) = 1.707825", () => {
    const r = computeAdvantages(
      { rewards, groupIds },
      { scale_rewards: 'batch', std_epsilon: 0.5 },
    );
    close(r.advantages, [-0.2264672, 0.2264672, 0.9058688, -0.9058688]);
  });

  it("scale 'group': group [1, 2, 6] has std √7 = 2.645751; ε 0.25 is added to it", () => {
    const r = computeAdvantages(
      { rewards: Float32Array.of(1, 2, 6, 3, 3, 5), groupIds: Int32Array.of(0, 0, 0, 1, 1, 2) },
      { std_epsilon: 0.25 },
    );
    // group 1 has std 0 and group 2 one sample: advantage 0
    close(r.advantages, [-0.690667, -0.3453335, 1.0360006, 0, 0, 0]);
  });

  it('leave-one-out with ε: baseline and std over the other two', () => {
    const r = computeAdvantages(
      { rewards: Float32Array.of(1, 2, 6), groupIds: Int32Array.of(0, 0, 0) },
      { use_leave_one_out_baseline: true, std_epsilon: 0.25 },
    );
    // 1 vs [2, 6]: (1 − 4)/(√8 + 0.25); 2 vs [1, 6]: (2 − 3.5)/(√12.5 + 0.25); 6 vs [1, 2]: 4.5/(√0.5 + 0.25)
    close(r.advantages, [-0.9745236, -0.3962453, 4.7016697]);
  });

  it('metrics: advantage_mean and advantage_abs_max after clipping to [−0.5, 0.9]', () => {
    const r = computeAdvantages(
      { rewards, groupIds },
      { scale_rewards: 'batch', std_epsilon: 0.5, advantage_clip: { low: -0.5, high: 0.9 } },
    );
    close(r.advantages, [-0.2264672, 0.2264672, 0.9, -0.5]);
    expect(r.metrics.num_clipped_advantages).toBe(2);
    expect(r.metrics.num_missing_rewards).toBe(0);
    expect(r.metrics.advantage_mean).toBeCloseTo(0.1, 6); // (0.9 − 0.5)/4
    expect(r.metrics.advantage_abs_max).toBeCloseTo(0.9, 6);
  });

  it('metrics of an all-negative batch: abs max is the largest magnitude, the mean is signed', () => {
    const r = computeAdvantages(
      { rewards: Float32Array.of(0, 3, Number.NaN), groupIds: Int32Array.of(0, 0, 0) },
      { scale_rewards: 'none', advantage_clip: { low: -1, high: -0.5 } },
    );
    // raw −1.5, 1.5, 0 (missing) → clipped to −1, −0.5, −0.5
    close(r.advantages, [-1, -0.5, -0.5]);
    expect(r.metrics.advantage_mean).toBeCloseTo(-2 / 3, 6);
    expect(r.metrics.advantage_abs_max).toBe(1);
    expect(r.metrics.num_missing_rewards).toBe(1);
    expect(r.metrics.num_clipped_advantages).toBe(3);
  });

  it('metrics of an empty batch are 0', () => {
    const r = computeAdvantages({ rewards: new Float32Array(0), groupIds: new Int32Array(0) });
    expect(r.metrics).toEqual({
      num_missing_rewards: 0,
      num_clipped_advantages: 0,
      advantage_mean: 0,
      advantage_abs_max: 0,
    });
  });
});

describe('REINFORCE++', () => {
  // groups of unequal size: with leave-one-out the centred values would be scaled by
  // n/(n − 1) = 2 in group 0 but 1.5 in group 1, which whitening does not undo
  const rewards = Float32Array.of(1, 3, 2, 6, 4);
  const groupIds = Int32Array.of(0, 0, 1, 1, 1);

  it('group_baseline subtracts the group mean (not the leave-one-out mean), then whitens', () => {
    const r = computeAdvantages(
      { rewards, groupIds },
      { estimator: 'reinforce_plus_plus', group_baseline: true },
    );
    // centred [−1, 1, −2, 2, 0], biased variance 2
    close(r.advantages, [-0.7071068, 0.7071068, -1.4142136, 1.4142136, 0]);
  });

  it('without group_baseline it whitens the rewards themselves (the default)', () => {
    expect(AdvantageOptionsSchema.parse({}).group_baseline).toBe(false);
    const r = computeAdvantages({ rewards, groupIds }, { estimator: 'reinforce_plus_plus' });
    close(r.advantages, [-1.278724, -0.1162476, -0.6974858, 1.627467, 0.4649906]);
  });

  it('token counts weight the mean and variance', () => {
    const r = computeAdvantages(
      { rewards, groupIds, tokenCounts: [1, 3, 2, 2, 1] },
      { estimator: 'reinforce_plus_plus', group_baseline: true },
    );
    close(r.advantages, [-0.8291562, 0.5276449, -1.5075567, 1.2060454, -0.1507557]);
  });

  it('whitenWeightedInPlace returns the token-weighted mean and biased std it used', () => {
    // values 1, 3 with weights 1, 3: mean (1 + 9)/4 = 2.5, variance (2.25 + 3·0.25)/4 = 0.75
    const v = Float64Array.of(1, 3, Number.NaN);
    const s = whitenWeightedInPlace(v, [1, 3, 7], 0, 0);
    expect(s.mean).toBeCloseTo(2.5, 12);
    expect(s.std).toBeCloseTo(Math.sqrt(0.75), 12);
    close(v, [-1.5 / Math.sqrt(0.75), 0.5 / Math.sqrt(0.75), 0], 9);
  });

  it('the variance floor is 1e-8: spreads below it are divided by 1e-4, not their std', () => {
    expect(WHITEN_VAR_FLOOR).toBe(1e-8);
    // values ±1e-5: mean 0, std 1e-5 (variance 1e-10 < 1e-8) → ±1e-5/1e-4 = ±0.1
    const v = Float64Array.of(-1e-5, 1e-5);
    const s = whitenWeightedInPlace(v, undefined, 0, 0);
    close(v, [-0.1, 0.1], 9);
    expect(s.std).toBeCloseTo(1e-5, 12);
    // ε is added to the floored std: ±1e-5/(1e-4 + 1e-4)
    const w = Float64Array.of(-1e-5, 1e-5);
    whitenWeightedInPlace(w, undefined, 1e-4, 0);
    close(w, [-0.05, 0.05], 9);
  });
});
