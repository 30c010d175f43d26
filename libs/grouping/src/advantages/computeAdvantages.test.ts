import { describe, expect, it } from 'vitest';
import { RxrlConfigError } from '@rxrl/core/base';
import { computeAdvantages } from './computeAdvantages';
import { momentStats } from './groupStats';

const close = (got: ArrayLike<number>, want: number[], digits = 5) => {
  expect(got.length).toBe(want.length);
  want.forEach((w, i) => expect(got[i]).toBeCloseTo(w, digits));
};
const nemo = { rewards: Float32Array.of(2, 2, 1, 3), groupIds: Int32Array.of(0, 0, 1, 1) };

describe('grpo', () => {
  it('NeMo RL case: [2,2,1,3] in groups [0,0,1,1] without leave-one-out', () => {
    // group 0 has std 0 -> no division; group 1: mean 2, Bessel std sqrt(2)
    close(computeAdvantages(nemo).advantages, [0, 0, -0.7071068, 0.7071068]);
  });

  it('leave-one-out: same batch, groups of two compare with the other sample only', () => {
    // baseline of 1 is 3 and vice versa; the std of one other sample is 0 -> no division
    close(computeAdvantages(nemo, { use_leave_one_out_baseline: true }).advantages, [0, 0, -2, 2]);
  });

  it('leave-one-out: baseline and Bessel std over the others, [1,2,4]', () => {
    // i=0: others [2,4] mean 3 std sqrt(2); i=1: [1,4] mean 2.5 std sqrt(4.5); i=2: [1,2] mean 1.5 std sqrt(.5)
    const r = computeAdvantages(
      { rewards: Float32Array.of(1, 2, 4), groupIds: Int32Array.of(7, 7, 7) },
      { use_leave_one_out_baseline: true },
    );
    close(r.advantages, [-2 / Math.SQRT2, -0.5 / Math.sqrt(4.5), 2.5 / Math.sqrt(0.5)]);
  });

  it('std that is a float32 residue of zero is not divided by', () => {
    // ten float32 additions of 0.1 give 1.0000001192..., not 1: the "same" reward
    let acc = 0;
    for (let i = 0; i < 10; i++) acc = Math.fround(acc + Math.fround(0.1));
    expect(acc).not.toBe(1);
    const inputs = {
      rewards: Float32Array.of(1, acc, 1, acc),
      groupIds: Int32Array.of(0, 0, 0, 0),
    };
    const guarded = computeAdvantages(inputs).advantages;
    for (const a of guarded) expect(Math.abs(a)).toBeLessThan(1e-6);
    // with the rule switched off the residue becomes a full-size advantage
    const naive = computeAdvantages(inputs, { zero_std_rtol: 0 }).advantages;
    close(naive, [-0.8660254, 0.8660254, -0.8660254, 0.8660254]);
  });

  it('scale_rewards batch divides by the Bessel std of the whole batch', () => {
    // batch mean 2, var (0+0+1+1)/3 -> std sqrt(2/3)
    const s = Math.sqrt(2 / 3);
    close(computeAdvantages(nemo, { scale_rewards: 'batch' }).advantages, [0, 0, -1 / s, 1 / s]);
  });

  it('scale_rewards none / false only centres; true means group', () => {
    close(computeAdvantages(nemo, { scale_rewards: 'none' }).advantages, [0, 0, -1, 1]);
    close(computeAdvantages(nemo, { scale_rewards: false }).advantages, [0, 0, -1, 1]);
    close(
      computeAdvantages(nemo, { scale_rewards: true }).advantages,
      [0, 0, -0.7071068, 0.7071068],
    );
  });

  it('std_epsilon is added to the std (TRL 1e-4)', () => {
    const a = 1 / (Math.SQRT2 + 1e-4);
    close(computeAdvantages(nemo, { std_epsilon: 1e-4 }).advantages, [0, 0, -a, a], 6);
  });

  it('NaN rewards are left out of the group statistics and get advantage 0', () => {
    // valid [1,3,5]: mean 3, Bessel std 2
    const r = computeAdvantages({
      rewards: Float32Array.of(1, Number.NaN, 3, 5),
      groupIds: Int32Array.of(0, 0, 0, 0),
    });
    close(r.advantages, [-1, 0, 0, 1]);
    expect(r.metrics.num_missing_rewards).toBe(1);
  });

  it('a sample alone in its group gets advantage 0', () => {
    close(
      computeAdvantages({ rewards: Float32Array.of(5), groupIds: Int32Array.of(3) }).advantages,
      [0],
    );
  });

  it('advantage_clip clamps and counts', () => {
    const r = computeAdvantages(nemo, { advantage_clip: { low: -0.5, high: 0.5 } });
    close(r.advantages, [0, 0, -0.5, 0.5]);
    expect(r.metrics.num_clipped_advantages).toBe(2);
  });
});

describe('rloo', () => {
  it('equals the closed form n/(n-1) (r - mean)', () => {
    const rewards = Float32Array.of(0.5, 1, 0, 2.5, 3, 1);
    const groupIds = Int32Array.of(0, 0, 0, 0, 1, 1);
    const got = computeAdvantages({ rewards, groupIds }, { estimator: 'rloo' }).advantages;
    // group 0: mean 1, n 4; group 1: mean 2, n 2
    close(got, [(4 / 3) * -0.5, 0, (4 / 3) * -1, (4 / 3) * 1.5, 2 * 1, 2 * -1]);
  });

  it('normalize_advantages whitens over the batch', () => {
    // raw [0,0,-2,2]: mean 0, Bessel std sqrt(8/3)
    const s = Math.sqrt(8 / 3);
    close(computeAdvantages(nemo, { estimator: 'rloo', normalize_advantages: true }).advantages, [
      0,
      0,
      -2 / s,
      2 / s,
    ]);
  });
});

describe('reinforce_plus_plus', () => {
  const inputs = { rewards: Float32Array.of(1, 3, 0, 0), groupIds: Int32Array.of(0, 0, 1, 1) };
  it('whitens with the biased variance (NeMo RL), one token per sample without token counts', () => {
    // mean 1, biased var (0 + 4 + 1 + 1)/4 = 1.5 (the Bessel var would be 2)
    const s = Math.sqrt(1.5);
    close(computeAdvantages(inputs, { estimator: 'reinforce_plus_plus' }).advantages, [
      0,
      2 / s,
      -1 / s,
      -1 / s,
    ]);
  });
  it('whitens over valid tokens: each sample counts its completion length', () => {
    // counts [2, 1, 1, 4], 8 tokens: mean (2·1 + 3)/8 = 0.625; deviations [0.375, 2.375, −0.625, −0.625];
    // var (2·0.140625 + 5.640625 + 0.390625 + 4·0.390625)/8 = 7.875/8 = 0.984375
    const s = Math.sqrt(0.984375);
    close(
      computeAdvantages(
        { ...inputs, tokenCounts: Int32Array.of(2, 1, 1, 4) },
        { estimator: 'reinforce_plus_plus' },
      ).advantages,
      [0.375 / s, 2.375 / s, -0.625 / s, -0.625 / s],
    );
  });
  it('floors the variance at 1e-8: rewards [0, 1e-5] give ±0.05, not ±1', () => {
    // mean 5e-6, biased std 5e-6 (var 2.5e-11 < 1e-8) → divide by sqrt(1e-8) = 1e-4
    const r = { rewards: Float32Array.of(0, 1e-5), groupIds: Int32Array.of(0, 1) };
    const h = Math.fround(1e-5) / 2 / 1e-4;
    close(computeAdvantages(r, { estimator: 'reinforce_plus_plus' }).advantages, [-h, h], 6);
  });
  it('with group_baseline subtracts the group mean first', () => {
    // centred [−1, 1, 0, 0]: mean 0, biased var 2/4
    const s = Math.sqrt(0.5);
    close(
      computeAdvantages(inputs, { estimator: 'reinforce_plus_plus', group_baseline: true })
        .advantages,
      [-1 / s, 1 / s, 0, 0],
    );
  });
  it('a missing reward takes no part in the statistics and gets 0', () => {
    // valid [1, 3, 0] with counts [1, 1, 2]: mean 1, var (0 + 4 + 2·1)/4 = 1.5
    const s = Math.sqrt(1.5);
    close(
      computeAdvantages(
        {
          rewards: Float32Array.of(1, 3, Number.NaN, 0),
          groupIds: Int32Array.of(0, 0, 1, 1),
          tokenCounts: Int32Array.of(1, 1, 5, 2),
        },
        { estimator: 'reinforce_plus_plus' },
      ).advantages,
      [0, 2 / s, 0, -1 / s],
    );
  });
});

describe('gdpo', () => {
  const groupIds = Int32Array.of(0, 0, 0, 0);
  const A = Float32Array.of(1, 0, 0, 0);
  const B = Float32Array.of(0, 0, 1, 1);
  it('normalises each component per group, sums, then batch-normalises', () => {
    // per component: A -> [1.5,-.5,-.5,-.5], B -> [-.866,-.866,.866,.866]; sum whitened (numpy)
    const r = computeAdvantages({ rewardComponents: [A, B], groupIds }, { estimator: 'gdpo' });
    close(r.advantages, [0.68955127, -1.48577648, 0.39811261, 0.39811261]);
    // GRPO on the summed reward [1,0,1,1] collapses (1,0) and (0,1) onto the same advantage
    const grpo = computeAdvantages({ rewards: Float32Array.of(1, 0, 1, 1), groupIds }).advantages;
    expect(grpo[0]).toBeCloseTo(grpo[2]!, 6);
    expect(r.advantages[0]).not.toBeCloseTo(r.advantages[2]!, 2);
  });
  it('reward_weights weight the components', () => {
    const r = computeAdvantages(
      { rewardComponents: [A, B], groupIds },
      { estimator: 'gdpo', reward_weights: [2, 1] },
    );
    close(r.advantages, [1.30096245, -1.13760913, -0.08167666, -0.08167666]);
  });
  it('a sample with every component NaN gets 0; a NaN component is skipped', () => {
    const C = Float32Array.of(1, 0, 0, Number.NaN);
    const D = Float32Array.of(Number.NaN, 1, 0, Number.NaN);
    const r = computeAdvantages({ rewardComponents: [C, D], groupIds }, { estimator: 'gdpo' });
    // C valid [1,0,0]: mean 1/3, std sqrt(1/3) -> [1.1547,-.57735,-.57735]; D valid [1,0]: [.7071,-.7071]
    // sums [1.1547, 0.1298, -1.2845] over the 3 valid samples, whitened
    const sums = [
      2 / Math.sqrt(3),
      -1 / Math.sqrt(3) + Math.SQRT1_2,
      -1 / Math.sqrt(3) - Math.SQRT1_2,
    ];
    const m = (sums[0]! + sums[1]! + sums[2]!) / 3;
    const sd = Math.sqrt(sums.reduce((s, x) => s + (x - m) ** 2, 0) / 2);
    const want = sums.map((x) => (x - m) / sd);
    close(r.advantages, [...want, 0]);
    // a sample is missing only when every component is: sample 3
    expect(r.metrics.num_missing_rewards).toBe(1);
    expect(r.metrics.num_clipped_advantages).toBe(0);
    // whitened values sum to 0; the missing sample adds a 0
    expect(r.metrics.advantage_mean).toBeCloseTo(0, 6);
    expect(r.metrics.advantage_abs_max).toBeCloseTo(Math.max(...want.map(Math.abs)), 6);
  });
  it('needs reward components', () => {
    expect(() => computeAdvantages(nemo, { estimator: 'gdpo' })).toThrow(/rewardComponents/);
  });
});

describe('options', () => {
  it('reject unknown estimators and keys with the key named', () => {
    expect(() => computeAdvantages(nemo, { estimator: 'ppo' as never })).toThrow(RxrlConfigError);
    expect(() => computeAdvantages(nemo, { estimator: 'ppo' as never })).toThrow(/estimator/);
    expect(() => computeAdvantages(nemo, { advantage_clip: { low: 1, high: 0 } })).toThrow(
      /advantage_clip/,
    );
    expect(() => computeAdvantages(nemo, { scale: 'group' } as never)).toThrow(/scale/);
  });
  it('rejects mismatched lengths', () => {
    expect(() =>
      computeAdvantages({ rewards: Float32Array.of(1, 2), groupIds: Int32Array.of(0) }),
    ).toThrow(/length/);
  });
});

describe('rloo with missing rewards', () => {
  it('keeps missing samples at 0 when whitening', () => {
    // valid [1,3] in group 0 -> raw [-2, 2]; [0,4] in group 1 -> [-4, 4]; raw mean 0, Bessel std sqrt(40/3)
    const rewards = Float32Array.of(1, 3, Number.NaN, 0, 4);
    const groupIds = Int32Array.of(0, 0, 0, 1, 1);
    const s = Math.sqrt(40 / 3);
    const r = computeAdvantages(
      { rewards, groupIds },
      { estimator: 'rloo', normalize_advantages: true },
    );
    close(r.advantages, [-2 / s, 2 / s, 0, -4 / s, 4 / s]);
  });
});

describe('fewer than two values (TRL nanstd gives NaN; here std 0, documented)', () => {
  it('momentStats: none → count 0, mean 0, std 0; one valid → std 0; two → Bessel', () => {
    expect(momentStats(Float32Array.of())).toEqual({ count: 0, mean: 0, std: 0, scale: 0 });
    expect(momentStats(Float32Array.of(Number.NaN, 5))).toEqual({
      count: 1,
      mean: 5,
      std: 0,
      scale: 5,
    });
    // [1, 4]: mean 2.5, Σ(r − mean)² = 4.5, /(n − 1) → std sqrt(4.5)
    expect(momentStats(Float32Array.of(1, 4)).std).toBeCloseTo(Math.sqrt(4.5), 12);
  });
  it('a group with one valid reward gets advantage 0, not NaN', () => {
    const r = {
      rewards: Float32Array.of(3, Number.NaN, 1, 2),
      groupIds: Int32Array.of(0, 0, 1, 1),
    };
    // group 0: only 3 is valid → 0; group 1: mean 1.5, std sqrt(0.5) → ∓0.5/sqrt(0.5)
    close(computeAdvantages(r).advantages, [0, 0, -Math.SQRT1_2, Math.SQRT1_2]);
  });
});
