import { describe, expect, it } from 'vitest';
import { groupQualityMetrics } from './groupQualityMetrics';

describe('groupQualityMetrics', () => {
  it('sizes, per-group reward std, zero-std fraction and embedding spread (hand-computed)', () => {
    const m = groupQualityMetrics({
      groupIds: [0, 0, 1, 1, 1, 2],
      // group 0: equal rewards (std 0); group 1: 0, 1, 2 (Bessel std 1); group 2: one missing reward
      rewards: Float32Array.of(1, 1, 0, 1, 2, NaN),
      // group 0: orthogonal (distance 1); group 1: parallel (distance 0); group 2: single, skipped
      embeddings: [
        [1, 0],
        [0, 1],
        [1, 0],
        [1, 0],
        [2, 0],
        [0, 3],
      ].map((r) => Float32Array.from(r)),
    });
    expect(m).toEqual({
      'train/grouping/num_groups': 3,
      'train/grouping/group_size_mean': 2,
      'train/grouping/group_size_min': 1,
      'train/grouping/group_size_max': 3,
      'train/grouping/reward_std_mean': 1 / 3,
      'train/grouping/zero_std_fraction': 2 / 3,
      'train/grouping/embedding_spread': 0.5,
    });
  });

  it('distinct_completion_fraction: distinct trimmed completions over group size, averaged over groups', () => {
    const m = groupQualityMetrics({
      groupIds: [0, 0, 0, 0, 1, 1, 2],
      rewards: new Float32Array(7),
      // group 0: '12', '12 ' (same once trimmed), '13', null -> 3 distinct of 4; group 1: 1 of 2; group 2: 1 of 1
      completionTexts: ['12', '12 ', '13', null, 'x', 'x', 'y'],
    });
    expect(m['train/grouping/distinct_completion_fraction']).toBeCloseTo(
      (3 / 4 + 1 / 2 + 1) / 3,
      12,
    );
  });

  it('treats a float32 residue of equal rewards as zero std, like the advantage estimators', () => {
    const a = Math.fround(0.1);
    const bits = Float32Array.of(a);
    new Uint32Array(bits.buffer)[0]! += 1; // the next float32 after a: std ~5e-9, below 1e-6 * 0.1
    const b = bits[0]!;
    expect(b).not.toBe(a);
    const m = groupQualityMetrics({ groupIds: [0, 0, 1, 1], rewards: Float32Array.of(a, b, 0, 1) });
    expect(m['train/grouping/zero_std_fraction']).toBe(0.5);
    expect(m['train/grouping/reward_std_mean']).toBeCloseTo(Math.SQRT1_2 / 2, 6);
    expect(m).not.toHaveProperty('train/grouping/embedding_spread');
  });
});
