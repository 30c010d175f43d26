// The edges of the advantage code: reading reward columns (zero-copy or with
// nulls, one or several chunks), the errors that name what is wrong, options
// handed through to every estimator, and the statistics helpers on their own.
// Expected values by hand from the formulas in the doc comments.
import { describe, expect, it } from 'vitest';
import { Dictionary, Float32, Float64, Int32, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { makeRecordBatch, readFloat32Column, RxrlDataError } from '@rxrl/core/base';
import {
  addAdvantageColumn,
  readAdvantageInputs,
  readFinishReasons,
  readRewardColumn,
} from './advantageColumns';
import { AdvantageOptionsSchema } from './advantageOptions';
import { clipAdvantagesInPlace } from './clipAdvantages';
import { computeAdvantages } from './computeAdvantages';
import { dynamicSamplingFilter } from './dynamicSampling';
import { gdpoAdvantages } from './gdpoAdvantages';
import { baselineAndStd, indexGroups, momentStats } from './groupStats';
import { RewardShapingOptionsSchema, shapeRewards } from './rewardShaping';
import { whitenInPlace, whitenWeightedInPlace } from './whiten';

const close = (got: ArrayLike<number>, want: number[], digits = 5) => {
  expect(got.length).toBe(want.length);
  want.forEach((w, i) => expect(got[i]).toBeCloseTo(w, digits));
};

describe('reward columns', () => {
  it('a Float32 column without nulls is read in place; with nulls it is a copy with NaN', () => {
    const batch = makeRecordBatch({ reward: Float32Array.of(1, 2) });
    const view = readRewardColumn(batch, 'reward');
    expect(view.buffer).toBe(batch.getChild('reward')!.data[0]!.values.buffer);
    const withNull = makeRecordBatch({ reward: vectorFromArray([1, null], new Float32()) });
    const copy = readRewardColumn(withNull, 'reward');
    expect(copy.buffer).not.toBe(withNull.getChild('reward')!.data[0]!.values.buffer);
  });

  it('a column of several chunks is read in order', () => {
    const table = new Table([
      makeRecordBatch({ reward: vectorFromArray([1, null], new Float32()) }),
      makeRecordBatch({ reward: vectorFromArray([3, null, 5], new Float32()) }),
    ]);
    const r = readRewardColumn(table, 'reward');
    expect(Array.from(r)).toEqual([1, Number.NaN, 3, Number.NaN, 5]);
  });

  it('a column of several chunks without nulls is read whole, not only its first chunk', () => {
    const table = new Table([
      makeRecordBatch({ reward: Float32Array.of(1, 2) }),
      makeRecordBatch({ reward: Float32Array.of(3, 4, 5) }),
    ]);
    expect(Array.from(readRewardColumn(table, 'reward'))).toEqual([1, 2, 3, 4, 5]);
  });

  it('a reward column that is not Float32 is an error naming it', () => {
    const batch = makeRecordBatch({ reward: vectorFromArray([1], new Float64()) });
    expect(() => readRewardColumn(batch, 'reward')).toThrow(
      /column 'reward' is Float64, expected Float32/,
    );
    try {
      readRewardColumn(makeRecordBatch({ reward: Int32Array.of(1) }), 'reward');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(RxrlDataError);
      expect((e as RxrlDataError).location.field).toBe('reward');
    }
  });

  it('the total reward is read unless it is absent and not needed', () => {
    const components = makeRecordBatch({
      group_id: Int32Array.of(0, 0),
      'reward/a': Float32Array.of(1, 2),
    });
    const inputs = readAdvantageInputs(components, { needTotal: false });
    expect(inputs.rewards).toBeUndefined();
    expect(inputs.componentNames).toEqual(['a']);
    expect(() => readAdvantageInputs(components)).toThrow(/reward/);
    const both = makeRecordBatch({
      group_id: Int32Array.of(0, 0),
      reward: Float32Array.of(3, 4),
      'reward/a': Float32Array.of(1, 2),
    });
    expect(Array.from(readAdvantageInputs(both, { needTotal: false }).rewards!)).toEqual([3, 4]);
  });

  it('gdpo on a batch without reward/<name> columns is an error naming the pattern', () => {
    const batch = makeRecordBatch({ group_id: Int32Array.of(0), reward: Float32Array.of(1) });
    try {
      addAdvantageColumn(batch, { estimator: 'gdpo' });
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).toMatch(/needs reward\/<name> columns/);
      expect((e as RxrlDataError).location.field).toBe('reward/*');
    }
  });

  it('reinforce_plus_plus without a completion_tokens column counts each sample once', () => {
    const batch = makeRecordBatch({
      group_id: Int32Array.of(0, 0, 1),
      reward: Float32Array.of(1, 3, 2),
    });
    const adv = readFloat32Column(
      addAdvantageColumn(batch, { estimator: 'reinforce_plus_plus' }).batch,
      'advantage',
    );
    // mean 2, biased variance 2/3: (r − 2)/√(2/3)
    close(adv, [-1.2247449, 1.2247449, 0]);
  });

  it('finish reasons: plain Utf8 is read; a non-text column is an error naming it', () => {
    const batch = makeRecordBatch({
      finish_reason: vectorFromArray(['stop', 'length', null], new Utf8()),
    });
    expect(readFinishReasons(batch)).toEqual(['stop', 'length', null]);
    const ints = makeRecordBatch({ finish_reason: vectorFromArray([1], new Int32()) });
    try {
      readFinishReasons(ints);
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).toMatch(
        /column 'finish_reason' is Int32, expected Utf8 or Dictionary<Utf8>/,
      );
      expect((e as RxrlDataError).location.field).toBe('finish_reason');
    }
  });

  it('finish reasons: Dictionary<Utf8> is read; a dictionary of numbers is an error', () => {
    const dict = makeRecordBatch({
      finish_reason: vectorFromArray(
        ['stop', 'length', 'stop', null],
        new Dictionary(new Utf8(), new Int32()),
      ),
    });
    expect(readFinishReasons(dict)).toEqual(['stop', 'length', 'stop', null]);
    const codes = makeRecordBatch({
      finish_reason: vectorFromArray([3, 7, 3], new Dictionary(new Int32(), new Int32())),
    });
    expect(() => readFinishReasons(codes)).toThrow(
      /column 'finish_reason' is Dictionary<Int32, Int32>, expected Utf8 or Dictionary<Utf8>/,
    );
  });
});

describe('options reach every estimator', () => {
  it('gdpo and REINFORCE++ use std_epsilon; gdpo uses zero_std_rtol', () => {
    const groupIds = Int32Array.of(0, 0, 1, 1);
    const rewards = Float32Array.of(1, 3, 2, 2);
    // REINFORCE++: mean 2, biased std √0.5; ε 1 → (r − 2)/(√0.5 + 1)
    const d = Math.SQRT1_2 + 1;
    close(
      computeAdvantages({ rewards, groupIds }, { estimator: 'reinforce_plus_plus', std_epsilon: 1 })
        .advantages,
      [-1 / d, 1 / d, 0, 0],
    );
    // gdpo with one component and ε 1: per group (r − 2)/(√2 + 1) → ±0.414214, 0, 0;
    // then whitened over the batch: Bessel std of (−a, a, 0, 0) = a·√(2/3), plus ε 1
    const a = 1 / (Math.SQRT2 + 1);
    const s = a * Math.sqrt(2 / 3) + 1;
    close(
      computeAdvantages(
        { rewardComponents: [rewards], groupIds },
        { estimator: 'gdpo', std_epsilon: 1 },
      ).advantages,
      [-a / s, a / s, 0, 0],
    );
    // a spread of 0.01 on rewards near 100 is a zero std under rtol 1e-3 (0.1), so that group is
    // only centred (±0.005) while the group [0, 2] is divided by its std (±0.7071); the batch
    // whitening then keeps their ratio (with the default rtol both would be ±1.2247 / ±0.866)
    const g = gdpoAdvantages(
      [Float32Array.of(100, 100.01, 0, 2)],
      indexGroups(Int32Array.of(0, 0, 1, 1), 4),
      { scale: 'group', zeroStdRtol: 1e-3 },
    );
    close(g, [-0.0086619, 0.0086619, -1.2247142, 1.2247142], 4);
  });

  it('grpo uses zero_std_rtol: a spread under rtol·max|r| is only centred', () => {
    const r = computeAdvantages(
      { rewards: Float32Array.of(1000, 1000.01), groupIds: Int32Array.of(0, 0) },
      { zero_std_rtol: 1e-3 },
    );
    close(r.advantages, [-0.005, 0.005], 3);
  });

  it('REINFORCE++ uses zero_std_rtol: a residue spread is only centred', () => {
    const r = computeAdvantages(
      { rewards: Float32Array.of(1000, 1000.01), groupIds: Int32Array.of(0, 1) },
      { estimator: 'reinforce_plus_plus', zero_std_rtol: 1e-3 },
    );
    close(r.advantages, [-0.005, 0.005], 3);
  });

  it('normalize_advantages whitens rloo only', () => {
    const rewards = Float32Array.of(1, 3, 5, 5);
    const groupIds = Int32Array.of(0, 0, 1, 1);
    const grpo = computeAdvantages(
      { rewards, groupIds },
      { scale_rewards: 'none', normalize_advantages: true },
    );
    close(grpo.advantages, [-1, 1, 0, 0]);
  });

  it('rloo leaves a missing reward at 0 without whitening', () => {
    const r = computeAdvantages(
      { rewards: Float32Array.of(1, Number.NaN, 3), groupIds: Int32Array.of(0, 0, 0) },
      { estimator: 'rloo' },
    );
    close(r.advantages, [-2, 0, 2]);
  });

  it('gdpo counts a sample as missing only when every component is NaN', () => {
    const r = computeAdvantages(
      {
        rewardComponents: [Float32Array.of(Number.NaN, 1, 2), Float32Array.of(1, Number.NaN, 3)],
        groupIds: Int32Array.of(0, 0, 0),
      },
      { estimator: 'gdpo' },
    );
    expect(r.metrics.num_missing_rewards).toBe(0);
  });

  it('gdpo argument errors name what is wrong', () => {
    const groups = indexGroups(Int32Array.of(0, 0), 2);
    const c = Float32Array.of(1, 2);
    expect(() => gdpoAdvantages([], groups, { scale: 'group' })).toThrow(/at least one/);
    expect(() => gdpoAdvantages([c, c], groups, { scale: 'group', weights: [1] })).toThrow(
      'reward_weights has 1 entries but there are 2 reward components',
    );
    expect(() => gdpoAdvantages([c, Float32Array.of(1)], groups, { scale: 'group' })).toThrow(
      'reward component 1 has length 1, expected 2',
    );
  });
});

describe('options schema', () => {
  it('scale_rewards booleans map to group / none', () => {
    expect(AdvantageOptionsSchema.parse({ scale_rewards: true }).scale_rewards).toBe('group');
    expect(AdvantageOptionsSchema.parse({ scale_rewards: false }).scale_rewards).toBe('none');
    expect(AdvantageOptionsSchema.parse({ scale_rewards: 'batch' }).scale_rewards).toBe('batch');
  });

  it('advantage_clip: low may equal high; low above high is an error with its message', () => {
    expect(
      AdvantageOptionsSchema.parse({ advantage_clip: { low: 1, high: 1 } }).advantage_clip,
    ).toEqual({ low: 1, high: 1 });
    const r = AdvantageOptionsSchema.safeParse({ advantage_clip: { low: 2, high: 1 } });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.message).toBe('advantage_clip.low must be <= advantage_clip.high');
  });

  it('reward shaping: the DAPO options come together, buffer ≤ max length', () => {
    const ok = (o: object) => RewardShapingOptionsSchema.safeParse(o).success;
    const dapo = { overlong_buffer_length: 4, overlong_buffer_penalty: 1, max_response_length: 4 };
    expect(ok(dapo)).toBe(true);
    expect(ok({ ...dapo, overlong_buffer_length: 5 })).toBe(false);
    expect(ok({ overlong_buffer_length: 4 })).toBe(false);
    expect(ok({ overlong_buffer_length: 4, max_response_length: 4 })).toBe(false);
    expect(ok({ max_response_length: 4 })).toBe(false);
    expect(ok({})).toBe(true);
    const issues = (o: object) =>
      RewardShapingOptionsSchema.safeParse(o).error?.issues.map((i) => i.message) ?? [];
    // one issue each, with its own message
    expect(issues({ overlong_buffer_length: 4 })).toEqual([
      'overlong_buffer_length, overlong_buffer_penalty and max_response_length must be set together',
    ]);
    expect(issues({ max_response_length: 4 })).toHaveLength(1);
    expect(issues({ ...dapo, overlong_buffer_length: 5 })).toEqual([
      'overlong_buffer_length must be <= max_response_length',
    ]);
  });

  it('reward shaping needs finish reasons and lengths for every sample', () => {
    const rewards = Float32Array.of(1, 1);
    expect(() =>
      shapeRewards({ rewards }, { enabled: true, stop_properly_penalty_coef: 0.5 }),
    ).toThrow('stop_properly_penalty_coef needs finishReasons for all 2 samples');
    expect(() =>
      shapeRewards(
        { rewards, finishReasons: ['length'] },
        { enabled: true, stop_properly_penalty_coef: 0.5 },
      ),
    ).toThrow(/finishReasons for all 2/);
    const dapo = {
      enabled: true,
      overlong_buffer_length: 2,
      overlong_buffer_penalty: 1,
      max_response_length: 4,
    };
    expect(() => shapeRewards({ rewards }, dapo)).toThrow(
      'the overlong penalty needs responseLengths for all 2 samples',
    );
    expect(() => shapeRewards({ rewards, responseLengths: Int32Array.of(1) }, dapo)).toThrow(
      /responseLengths for all 2/,
    );
  });
});

describe('statistics helpers', () => {
  it('clipAdvantagesInPlace: values on a bound are not clipped; low > high is an error', () => {
    const a = Float64Array.of(-1, 1, -2, 2, 0);
    expect(clipAdvantagesInPlace(a, -1, 1)).toBe(2);
    expect(Array.from(a)).toEqual([-1, 1, -1, 1, 0]);
    expect(clipAdvantagesInPlace(Float64Array.of(3), 0, 0)).toBe(1);
    expect(() => clipAdvantagesInPlace(a, 1, 0)).toThrow(
      'advantage_clip: low (1) must be <= high (0)',
    );
  });

  it('momentStats: scale is the largest |r|, not the last', () => {
    expect(momentStats([3, -1, 2]).scale).toBe(3);
    expect(momentStats([-4, 1]).scale).toBe(4);
  });

  it('baselineAndStd: a missing reward has baseline NaN; a lone sample its own reward', () => {
    // two valid rewards and a missing one: the missing one still gets no baseline
    const three = baselineAndStd(
      Float32Array.of(Number.NaN, 1, 3),
      indexGroups(Int32Array.of(0, 0, 0), 3),
      false,
    );
    expect(Number.isNaN(three.baseline[0]!)).toBe(true);
    expect(Array.from(three.zeroStd)).toEqual([1, 0, 0]);
    const rewards = Float32Array.of(Number.NaN, 2, 5, 1, Number.NaN);
    const groups = indexGroups(Int32Array.of(0, 0, 1, 2, 2), 5);
    const s = baselineAndStd(rewards, groups, false);
    expect(Number.isNaN(s.baseline[0]!)).toBe(true);
    expect(Array.from(s.zeroStd)).toEqual([1, 1, 1, 1, 1]);
    expect(Array.from(s.baseline.subarray(1))).toEqual([2, 5, 1, Number.NaN]);
    // leave-one-out: sample 1's others are all missing, so it is its own baseline
    const loo = baselineAndStd(rewards, groups, true);
    expect(loo.baseline[1]).toBe(2);
    expect(loo.zeroStd[1]).toBe(1);
    // a group of two with leave-one-out: the other's reward, std 0
    const two = baselineAndStd(Float32Array.of(1, 4), indexGroups(Int32Array.of(0, 0), 2), true);
    expect(Array.from(two.baseline)).toEqual([4, 1]);
    expect(Array.from(two.std)).toEqual([0, 0]);
  });

  it('baselineAndStd: the Bessel std of the group, or of the others with leave-one-out', () => {
    const rewards = Float32Array.of(1, 2, 6);
    const groups = indexGroups(Int32Array.of(0, 0, 0), 3);
    const whole = baselineAndStd(rewards, groups, false);
    close(whole.baseline, [3, 3, 3], 12);
    close(whole.std, [Math.sqrt(7), Math.sqrt(7), Math.sqrt(7)], 12);
    // 1 vs [2, 6]: mean 4, std √8; 2 vs [1, 6]: 3.5, √12.5; 6 vs [1, 2]: 1.5, √0.5
    const loo = baselineAndStd(rewards, groups, true);
    close(loo.baseline, [4, 3.5, 1.5], 12);
    close(loo.std, [Math.sqrt(8), Math.sqrt(12.5), Math.sqrt(0.5)], 12);
    expect(Array.from(loo.zeroStd)).toEqual([0, 0, 0]);
  });

  it('whitenInPlace: (a − mean)/(std + ε) on data with a non-zero mean; returns mean and std', () => {
    const v = Float64Array.of(1, 2, 6);
    // mean 3, Bessel std √7
    expect(whitenInPlace(v, 0.5)).toEqual({ mean: 3, std: Math.sqrt(7) });
    close(v, [-2 / (Math.sqrt(7) + 0.5), -1 / (Math.sqrt(7) + 0.5), 3 / (Math.sqrt(7) + 0.5)]);
    const flat = Float64Array.of(4, 4, Number.NaN);
    whitenInPlace(flat);
    expect(Array.from(flat)).toEqual([0, 0, 0]);
  });

  it('whitenWeightedInPlace: zero-weight samples do not set the scale; all-zero weights only centre on 0', () => {
    // weighted mean 1.01, biased std 0.01; scale 1.02 → 0.01 > 0.005·1.02, so divided
    const v = Float64Array.of(1, 1.02, 100);
    whitenWeightedInPlace(v, [1, 1, 0], 0, 0.005);
    close(v, [-1, 1, 9899], 4);
    // the scale is the largest |a|, not the last: std 0.01 ≤ 0.0099·1.02, so only centred
    const m = Float64Array.of(1.02, 1);
    whitenWeightedInPlace(m, undefined, 0, 0.0099);
    close(m, [0.01, -0.01], 9);
    const z = Float64Array.of(1, 2);
    expect(whitenWeightedInPlace(z, [0, 0])).toEqual({ mean: 0, std: 0 });
    expect(Array.from(z)).toEqual([1, 2]);
    const flat = Float64Array.of(3, 3);
    whitenWeightedInPlace(flat);
    expect(Array.from(flat)).toEqual([0, 0]);
    expect(() => whitenWeightedInPlace(Float64Array.of(1, 2), [1])).toThrow(
      'token counts have length 1 but advantages have length 2',
    );
  });

  it('dynamic sampling of an empty batch keeps fraction 1', () => {
    const r = dynamicSamplingFilter(new Float32Array(0), new Int32Array(0));
    expect(r.keptFraction).toBe(1);
    expect(r.numGroups).toBe(0);
  });
});
