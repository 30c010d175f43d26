import { describe, expect, it } from 'vitest';
import { Float32, vectorFromArray } from 'apache-arrow';
import {
  dictionaryUtf8Vector,
  listVectorFromRows,
  makeRecordBatch,
  readFloat32Column,
  RxrlDataError,
} from '@rxrl/core/base';
import {
  addAdvantageColumn,
  readFinishReasons,
  readResponseLengths,
  readRewardColumn,
} from './advantageColumns';
import { shapeRewards } from './rewardShaping';

describe('advantage columns', () => {
  it('adds an advantage column computed from reward and group_id (NeMo RL case)', () => {
    const batch = makeRecordBatch({
      group_id: Int32Array.of(0, 0, 1, 1),
      reward: Float32Array.of(2, 2, 1, 3),
    });
    const { batch: out, metrics } = addAdvantageColumn(batch);
    expect(out.schema.fields.map((f) => f.name)).toEqual(['group_id', 'reward', 'advantage']);
    const adv = readFloat32Column(out, 'advantage');
    [0, 0, -0.7071068, 0.7071068].forEach((w, i) => expect(adv[i]).toBeCloseTo(w, 6));
    // the metrics of computeAdvantages on the same rewards: ±1/√2 in group 1, 0 in group 0
    expect(metrics.num_missing_rewards).toBe(0);
    expect(metrics.num_clipped_advantages).toBe(0);
    expect(metrics.advantage_mean).toBeCloseTo(0, 7);
    expect(metrics.advantage_abs_max).toBeCloseTo(Math.SQRT1_2, 6);
    // columns it did not make are the same data
    expect(readFloat32Column(out, 'reward')).toEqual(readFloat32Column(batch, 'reward'));
  });

  it('reads null rewards as missing (NaN -> advantage 0)', () => {
    const reward = vectorFromArray([1, null, 3, 5], new Float32());
    const batch = makeRecordBatch({ group_id: Int32Array.of(4, 4, 4, 4), reward });
    expect(Number.isNaN(readRewardColumn(batch, 'reward')[1]!)).toBe(true);
    const adv = readFloat32Column(addAdvantageColumn(batch).batch, 'advantage');
    [-1, 0, 0, 1].forEach((w, i) => expect(adv[i]).toBeCloseTo(w, 6));
  });

  it('gdpo reads the reward/<name> components', () => {
    const batch = makeRecordBatch({
      group_id: Int32Array.of(0, 0, 0, 0),
      'reward/accuracy': Float32Array.of(1, 0, 0, 0),
      'reward/format': Float32Array.of(0, 0, 1, 1),
    });
    const adv = readFloat32Column(
      addAdvantageColumn(batch, { estimator: 'gdpo' }).batch,
      'advantage',
    );
    [0.68955127, -1.48577648, 0.39811261, 0.39811261].forEach((w, i) =>
      expect(adv[i]).toBeCloseTo(w, 5),
    );
    expect(() =>
      addAdvantageColumn(makeRecordBatch({ group_id: Int32Array.of(0) }), { estimator: 'gdpo' }),
    ).toThrow(RxrlDataError);
  });

  it('reinforce_plus_plus weights each sample by its completion_tokens length', () => {
    // lengths [2, 1, 1, 4]: token-weighted mean 0.625, biased var 0.984375 (see computeAdvantages.test)
    const batch = makeRecordBatch({
      group_id: Int32Array.of(0, 0, 1, 1),
      reward: Float32Array.of(1, 3, 0, 0),
      completion_tokens: listVectorFromRows([[1, 2], [1], [1], [1, 2, 3, 4]]),
    });
    const adv = readFloat32Column(
      addAdvantageColumn(batch, { estimator: 'reinforce_plus_plus' }).batch,
      'advantage',
    );
    const s = Math.sqrt(0.984375);
    [0.375 / s, 2.375 / s, -0.625 / s, -0.625 / s].forEach((w, i) =>
      expect(adv[i]).toBeCloseTo(w, 5),
    );
  });

  it('names the missing column', () => {
    const batch = makeRecordBatch({ reward: Float32Array.of(1) });
    expect(() => addAdvantageColumn(batch)).toThrow(/group_id/);
  });

  it('reads completion lengths and finish reasons for reward shaping', () => {
    const batch = makeRecordBatch({
      reward: Float32Array.of(1, 1, 1),
      completion_tokens: listVectorFromRows([
        [1, 2],
        [1, 2, 3, 4, 5],
        [1, 2, 3, 4, 5, 6],
      ]),
      finish_reason: dictionaryUtf8Vector(['stop', 'stop', 'length']),
    });
    const responseLengths = readResponseLengths(batch);
    expect(Array.from(responseLengths)).toEqual([2, 5, 6]);
    const finishReasons = readFinishReasons(batch);
    expect(finishReasons).toEqual(['stop', 'stop', 'length']);
    const shaped = shapeRewards(
      { rewards: readRewardColumn(batch, 'reward'), responseLengths, finishReasons },
      {
        enabled: true,
        overlong_buffer_length: 2,
        overlong_buffer_penalty: 1,
        max_response_length: 6,
        stop_properly_penalty_coef: 0.5,
      },
    );
    // lengths 2, 5, 6 with L_max 6, L_cache 2: penalties 0, -0.5, -1; the truncated one is first halved
    expect(Array.from(shaped)).toEqual([1, 0.5, -0.5]);
  });
});
