import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Rng } from '@rxrl/core/base';
import { boundsFeasible, chooseGroupCount, fitGroupSizes, groupMembers } from './fitGroupSizes';
import { BUILTIN_GROUPING_STRATEGIES } from './builtinStrategies';
import { formGroups } from './strategyRegistry';
import type { GroupSizeBounds } from './groupingInput';

const INF = Number.POSITIVE_INFINITY;

/** Checks ids are dense 0..G-1 and returns the group sizes. */
function sizesOf(ids: Int32Array): number[] {
  const sizes: number[] = [];
  for (const id of ids) {
    expect(Number.isInteger(id) && id >= 0).toBe(true);
    sizes[id] = (sizes[id] ?? 0) + 1;
  }
  for (let g = 0; g < sizes.length; g++) expect(sizes[g]).toBeGreaterThan(0);
  return sizes;
}

const boundsArb = fc
  .tuple(
    fc.integer({ min: 1, max: 5 }),
    fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }),
  )
  .map(([min, extra]): GroupSizeBounds => ({ min, max: extra === undefined ? INF : min + extra }));

describe('fitGroupSizes', () => {
  it('splits an oversized group into near-equal runs and folds the leftover into a group with room', () => {
    expect(Array.from(fitGroupSizes([0, 0, 0, 0, 0, 1], { min: 2, max: 3 }))).toEqual([
      0, 0, 0, 1, 1, 1,
    ]);
  });

  it('fills an undersized group from groups above min when the others have no room', () => {
    const ids = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2];
    expect(Array.from(fitGroupSizes(ids, { min: 4, max: 5 }))).toEqual([
      0, 0, 0, 0, 1, 2, 2, 2, 2, 2, 1, 1, 1,
    ]);
  });

  it('leaves a grouping alone when no grouping can meet the bounds', () => {
    expect(boundsFeasible(6, { min: 4, max: 5 })).toBe(false);
    expect(Array.from(fitGroupSizes([0, 0, 0, 1, 1, 1], { min: 4, max: 5 }))).toEqual([
      0, 0, 0, 1, 1, 1,
    ]);
  });

  it('with embeddings, moves samples to (and takes them from) the most similar group', () => {
    const x = Float64Array.of(1, 0);
    const y = Float64Array.of(0, 1);
    // dissolve: sample 4 is like 2 and 3; without embeddings it joins the first of two equal groups
    expect(Array.from(fitGroupSizes([0, 0, 1, 1, 2], { min: 2, max: INF }))).toEqual([
      0, 0, 1, 1, 0,
    ]);
    const rows = [x, x, y, y, y];
    expect(Array.from(fitGroupSizes([0, 0, 1, 1, 2], { min: 2, max: INF }, rows))).toEqual([
      0, 0, 1, 1, 1,
    ]);
    // fill: no room anywhere (max 3), so sample 6 takes a member from a group above min
    const ids = [0, 0, 0, 1, 1, 1, 2];
    expect(Array.from(fitGroupSizes(ids, { min: 2, max: 3 }))).toEqual([0, 0, 1, 2, 2, 2, 1]);
    expect(Array.from(fitGroupSizes(ids, { min: 2, max: 3 }, [x, y, x, x, x, x, y]))).toEqual([
      0, 1, 0, 2, 2, 2, 1,
    ]);
  });

  it('chooses the group count nearest n / target inside the feasible range', () => {
    expect(chooseGroupCount(10, 4, { min: 1, max: INF })).toBe(3);
    expect(chooseGroupCount(10, 4, { min: 4, max: INF })).toBe(2);
    expect(chooseGroupCount(10, 10, { min: 1, max: 3 })).toBe(4);
  });

  it('property: every sample gets one group, sizes within bounds when feasible, fitting groups untouched', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 40 }),
        boundsArb,
        (raw, bounds) => {
          const ids = fitGroupSizes(raw, bounds);
          expect(ids.length).toBe(raw.length);
          const sizes = sizesOf(ids);
          if (boundsFeasible(raw.length, bounds)) {
            for (const s of sizes) {
              expect(s).toBeGreaterThanOrEqual(bounds.min);
              expect(s).toBeLessThanOrEqual(bounds.max);
            }
          }
          const before = groupMembers(raw);
          if (before.every((m) => m.length >= bounds.min && m.length <= bounds.max)) {
            expect(groupMembers(ids)).toEqual(before);
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('every built-in strategy respects min_group_size / max_group_size', () => {
  const inputArb = fc.integer({ min: 1, max: 24 }).chain((n) =>
    fc.record({
      promptIds: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: n, maxLength: n }),
      rewards: fc.array(fc.float({ min: -2, max: 2, noNaN: true }), { minLength: n, maxLength: n }),
      embeddings: fc.array(
        fc.array(fc.float({ min: -1, max: 1, noNaN: true }), { minLength: 3, maxLength: 3 }),
        {
          minLength: n,
          maxLength: n,
        },
      ),
      seed: fc.integer({ min: 0, max: 1000 }),
      step: fc.integer({ min: 0, max: 9 }),
    }),
  );
  const options: Record<string, unknown> = {
    adaptive: {
      schedule: [
        { until: 0.3, strategy: 'random' },
        { until: 0.7, strategy: 'performance' },
        { strategy: 'semantic' },
      ],
    },
    performance: {},
  };
  for (const strategy of BUILTIN_GROUPING_STRATEGIES) {
    it(`property: ${strategy}`, () => {
      fc.assert(
        fc.property(inputArb, boundsArb, (x, bounds) => {
          const n = x.promptIds.length;
          const ids = formGroups(
            {
              promptIds: Int32Array.from(x.promptIds),
              rewards: Float32Array.from(x.rewards),
              embeddings: x.embeddings.map((e) => Float32Array.from(e)),
            },
            {
              strategy,
              options: options[strategy] ?? {},
              min_group_size: bounds.min,
              max_group_size: bounds.max === INF ? undefined : bounds.max,
            },
            { step: x.step, totalSteps: 10, rng: new Rng(x.seed) },
          );
          expect(ids.length).toBe(n);
          const sizes = sizesOf(ids);
          if (boundsFeasible(n, bounds)) {
            for (const s of sizes) expect(s >= bounds.min && s <= bounds.max).toBe(true);
          }
        }),
        { numRuns: 60 },
      );
    });
  }
});
