import { describe, expect, it } from 'vitest';
import { dynamicSamplingFilter } from './dynamicSampling';

describe('dynamicSamplingFilter', () => {
  it('drops groups with all-equal rewards, residues of equal, or fewer than two valid rewards', () => {
    const rewards = Float32Array.of(1, 1, 0, 1, 0.5, 0.5, Number.NaN, 2, 1, 1 + 2 ** -23, 0, 1, 1);
    const groupIds = Int32Array.of(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 5);
    const r = dynamicSamplingFilter(rewards, groupIds);
    // kept: group 1 (0 vs 1) and group 5; dropped: 0, 2 (equal), 3 (one valid), 4 (float32 residue)
    expect(Array.from(r.keptIndices)).toEqual([2, 3, 10, 11, 12]);
    expect(Array.from(r.keep)).toEqual([0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
    expect(r.numGroups).toBe(6);
    expect(r.numKeptGroups).toBe(2);
    expect(r.keptFraction).toBeCloseTo(2 / 6, 12);
  });
  it('keeps everything when all groups vary', () => {
    const r = dynamicSamplingFilter(Float32Array.of(0, 1, 2, 3), Int32Array.of(9, 9, 4, 4));
    expect(r.keptFraction).toBe(1);
    expect(r.keptIndices.length).toBe(4);
  });
});
