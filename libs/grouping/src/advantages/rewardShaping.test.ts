import { describe, expect, it } from 'vitest';
import { overlongPenalty, shapeRewards } from './rewardShaping';
import { scaleRewards } from './rewardScaling';

describe('DAPO overlong penalty', () => {
  it('is 0 up to L_max - L_cache, linear to -penalty at L_max, and uncapped beyond (NeMo RL)', () => {
    // L_max 20, L_cache 4: −(l − 16)/4 · penalty; l = 25 → −9/4
    const lens = [10, 16, 17, 18, 20, 25];
    expect(lens.map((l) => overlongPenalty(l, 20, 4, 1))).toEqual([0, 0, -0.25, -0.5, -1, -2.25]);
    expect(lens.map((l) => overlongPenalty(l, 20, 4, 0.5))).toEqual([
      0, 0, -0.125, -0.25, -0.5, -1.125,
    ]);
  });
  it('with the cap stops at -penalty beyond L_max (DAPO paper)', () => {
    const lens = [17, 20, 25];
    expect(lens.map((l) => overlongPenalty(l, 20, 4, 1, true))).toEqual([-0.25, -1, -1]);
    const shaped = (cap: boolean) =>
      Array.from(
        shapeRewards(
          { rewards: Float32Array.of(1, 1), responseLengths: Int32Array.of(18, 24) },
          {
            enabled: true,
            overlong_buffer_length: 4,
            overlong_buffer_penalty: 1,
            max_response_length: 20,
            cap_overlong_penalty: cap,
          },
        ),
      );
    expect(shaped(false)).toEqual([0.5, -1]); // 1 − 8/4
    expect(shaped(true)).toEqual([0.5, 0]); // 1 − 1
  });
  it('is added to the rewards by shapeRewards', () => {
    const out = shapeRewards(
      { rewards: Float32Array.of(1, 1, 0), responseLengths: Int32Array.of(16, 18, 19) },
      {
        enabled: true,
        overlong_buffer_length: 4,
        overlong_buffer_penalty: 1,
        max_response_length: 20,
      },
    );
    expect(Array.from(out)).toEqual([1, 0.5, -0.75]);
  });
  it('needs all three DAPO options together', () => {
    expect(() =>
      shapeRewards({ rewards: Float32Array.of(1) }, { enabled: true, max_response_length: 20 }),
    ).toThrow(/set together/);
  });
});

describe('stop-properly penalty', () => {
  it('scales the reward of truncated samples (finish_reason length)', () => {
    const out = shapeRewards(
      { rewards: Float32Array.of(1, 1, 0.5), finishReasons: ['stop', 'length', 'length'] },
      { enabled: true, stop_properly_penalty_coef: 0.2 },
    );
    expect(Array.from(out)).toEqual([1, Math.fround(0.2), Math.fround(0.1)]);
  });
  it('is a copy when disabled', () => {
    const r = Float32Array.of(1, 2);
    const out = shapeRewards({ rewards: r }, { enabled: false, stop_properly_penalty_coef: 0 });
    expect(Array.from(out)).toEqual([1, 2]);
    expect(out).not.toBe(r);
  });
});

describe('reward scaling', () => {
  it('clamps to the source range and maps it onto the target range; NaN stays NaN', () => {
    const out = scaleRewards(Float32Array.of(-5, 0, 5, 10, 15, 2.5, Number.NaN), {
      enabled: true,
      source_min: 0,
      source_max: 10,
      target_min: -1,
      target_max: 1,
    });
    expect(Array.from(out.subarray(0, 6))).toEqual([-1, -1, 0, 1, 1, -0.5]);
    expect(out[6]).toBeNaN();
  });
  it('rejects an empty source range', () => {
    expect(() =>
      scaleRewards(Float32Array.of(1), { enabled: true, source_min: 1, source_max: 1 }),
    ).toThrow(/source_max/);
  });
});
