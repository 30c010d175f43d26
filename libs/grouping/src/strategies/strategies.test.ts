import { describe, expect, it } from 'vitest';
import { Rng } from '@rxrl/core/base';
import './builtinStrategies';
import { activePhase } from './adaptiveGroups';
import { multiCriteriaAffinity, multiCriteriaGroupsOptions } from './multiCriteriaGroups';
import { performanceGroups, performanceGroupsOptions } from './performanceGroups';
import { formGroups, type FormGroupsRequest } from './strategyRegistry';
import type { GroupingInput } from './groupingInput';

const run = (
  input: GroupingInput,
  request: FormGroupsRequest,
  seed = 1,
  step = 0,
  totalSteps = 10,
) => Array.from(formGroups(input, request, { step, totalSteps, rng: new Rng(seed) }));

const f32 = (...x: number[]) => Float32Array.from(x);
const i32 = (...x: number[]) => Int32Array.from(x);

// Eight samples, two prompts; rewards distinct so the sorted order is known.
const eight: GroupingInput = {
  promptIds: i32(0, 0, 0, 0, 1, 1, 1, 1),
  rewards: f32(0.5, 0.1, 0.9, 0.3, 0.7, 0.2, 0.8, 0.4),
};

// Two clear clusters that cut across prompts: A near x (0, 2, 5, 7), B near y (1, 3, 4, 6).
const A = [f32(1, 0.05, 0), f32(0.95, 0, 0.1), f32(1, 0.1, 0.05), f32(0.9, 0.02, 0)];
const B = [f32(0.02, 1, 0), f32(0.1, 0.9, 0.05), f32(0, 1, 0.1), f32(0.05, 0.95, 0)];
const clustered: GroupingInput = {
  ...eight,
  embeddings: [A[0]!, B[0]!, A[1]!, B[1]!, B[2]!, A[2]!, B[3]!, A[3]!],
};

describe('by_prompt', () => {
  it('groups the generations of each prompt, ids by first appearance', () => {
    const input = { promptIds: i32(5, 5, 3, 3, 5, 3), rewards: new Float32Array(6) };
    expect(run(input, { strategy: 'by_prompt' })).toEqual([0, 0, 1, 1, 0, 1]);
  });
});

describe('random', () => {
  const ten = { promptIds: new Int32Array(10), rewards: new Float32Array(10) };
  it('cuts the seeded permutation into near-equal groups', () => {
    const ids = run(ten, { strategy: 'random', options: { group_size: 4 } }, 7);
    // round(10 / 4) = 3 groups of 4, 3, 3, taken in permutation order
    const perm = new Rng(7).permutation(10);
    const raw = new Int32Array(10);
    perm.forEach((sample, pos) => (raw[sample] = pos < 4 ? 0 : pos < 7 ? 1 : 2));
    const first = new Map<number, number>();
    expect(ids).toEqual(
      Array.from(raw, (g) => first.get(g) ?? (first.set(g, first.size), first.size - 1)),
    );
  });
  it('is fixed by the seed and changes with it', () => {
    const a = run(ten, { strategy: 'random', options: { group_size: 2 } }, 3);
    expect(run(ten, { strategy: 'random', options: { group_size: 2 } }, 3)).toEqual(a);
    expect(run(ten, { strategy: 'random', options: { group_size: 2 } }, 4)).not.toEqual(a);
  });
});

describe('performance', () => {
  it('similar: contiguous runs of the reward-sorted samples', () => {
    // sorted: 1 (0.1), 5, 3, 7 | 0 (0.5), 4, 6, 2 -> raw ids 0 for the low half
    const raw = performanceGroups(eight, performanceGroupsOptions.parse({}), {
      step: 0,
      totalSteps: 1,
      rng: new Rng(0),
      bounds: { min: 1, max: Infinity },
    });
    expect(Array.from(raw)).toEqual([1, 0, 1, 0, 1, 0, 1, 0]);
    expect(run(eight, { strategy: 'performance' })).toEqual([0, 1, 0, 1, 0, 1, 0, 1]);
  });
  it('stratified: sorted samples dealt round-robin so each group spans the rewards', () => {
    // ranks 0..7 = samples 1, 5, 3, 7, 0, 4, 6, 2 -> group rank % 2
    expect(run(eight, { strategy: 'performance', options: { mode: 'stratified' } })).toEqual([
      0, 0, 1, 0, 1, 1, 0, 1,
    ]);
  });
  it('puts missing (NaN) rewards last', () => {
    const input = { promptIds: i32(0, 0, 1, 1), rewards: f32(NaN, 1, 0, 2) };
    // order 2 (0), 1 (1) | 3 (2), 0 (NaN)
    expect(run(input, { strategy: 'performance', options: { group_size: 2 } })).toEqual([
      0, 1, 1, 0,
    ]);
  });
});

describe('semantic', () => {
  it('puts two clear clusters in two groups, for any seed', () => {
    for (const seed of [0, 1, 2, 3, 42]) {
      expect(run(clustered, { strategy: 'semantic' }, seed)).toEqual([0, 1, 0, 1, 1, 0, 1, 0]);
    }
  });
  it('keeps unequal clusters whole (3 and 5) when no max_group_size forces a cut', () => {
    const input: GroupingInput = {
      promptIds: i32(0, 0, 0, 0, 1, 1, 1, 1),
      rewards: new Float32Array(8),
      embeddings: [A[0]!, B[0]!, B[1]!, A[1]!, B[2]!, B[3]!, A[2]!, f32(0.05, 1, 0.05)],
    };
    expect(run(input, { strategy: 'semantic' }, 5)).toEqual([0, 1, 1, 0, 1, 1, 0, 1]);
  });
  it('with max_group_size 3 splits the clusters but never mixes them', () => {
    const ids = run(clustered, { strategy: 'semantic', max_group_size: 3 }, 9);
    const sizes = new Map<number, number>();
    ids.forEach((g) => sizes.set(g, (sizes.get(g) ?? 0) + 1));
    expect([...sizes.values()].every((s) => s <= 3)).toBe(true);
    const inA = new Set([0, 2, 5, 7]);
    for (let i = 0; i < 8; i++) {
      for (let j = 0; j < 8; j++) if (ids[i] === ids[j]) expect(inA.has(i)).toBe(inA.has(j));
    }
  });
  it('is fixed by the seed on unclustered data', () => {
    const rng = new Rng(123);
    const input: GroupingInput = {
      promptIds: Int32Array.from({ length: 20 }, (_, i) => i % 5),
      rewards: new Float32Array(20),
      embeddings: Array.from({ length: 20 }, () => rng.fillNormal(new Float32Array(4))),
    };
    const a = run(input, { strategy: 'semantic' }, 3);
    expect(run(input, { strategy: 'semantic' }, 3)).toEqual(a);
    expect(new Set(a).size).toBe(5);
  });
  describe("similarity_threshold (the guides' anchored grouping)", () => {
    // unit vectors at 0°, 10°, 30° and 90°: cos(0°,10°) = 0.985, cos(0°,30°) = 0.866,
    // cos(10°,30°) = 0.940, cos(30°,90°) = 0.5, cos(0°,90°) = 0
    const deg = (d: number) => f32(Math.cos((d * Math.PI) / 180), Math.sin((d * Math.PI) / 180));
    const four: GroupingInput = {
      promptIds: i32(0, 1, 2, 3),
      rewards: new Float32Array(4),
      embeddings: [deg(0), deg(10), deg(30), deg(90)],
    };
    const at = (t: number, more: Partial<FormGroupsRequest> = {}, options = {}) =>
      run(four, {
        strategy: 'semantic',
        options: { similarity_threshold: t, ...options },
        ...more,
      });
    it('a sample joins the anchor of its group when cos >= threshold', () => {
      // 0.95: 0° anchors {0°, 10°}; 30° (0.866 to 0°) anchors alone; 90° alone
      expect(at(0.95)).toEqual([0, 0, 1, 2]);
      // 0.8: 30° (0.866) joins too; 90° still alone
      expect(at(0.8)).toEqual([0, 0, 0, 1]);
      // 0.866 is cos 30° itself (inclusive); 0.99 leaves everyone alone
      expect(at(Math.fround(Math.cos(Math.PI / 6)) - 1e-7)).toEqual([0, 0, 0, 1]);
      expect(at(0.99)).toEqual([0, 1, 2, 3]);
      expect(at(-1)).toEqual([0, 0, 0, 0]);
    });
    it('the most similar join first, up to group_size (or max_group_size)', () => {
      // 0.8 with two per group: 0° takes 10° (0.985) before 30° (0.866); 30° then anchors
      expect(at(0.8, {}, { group_size: 2 })).toEqual([0, 0, 1, 2]);
      expect(at(0.8, { max_group_size: 2 })).toEqual([0, 0, 1, 2]);
    });
    it('min_group_size 2 merges lone samples as the size fitting does (undersized groups first)', () => {
      // 0.95 leaves 30° and 90° alone; the fitting dissolves 30° into the other undersized
      // group, so both reach the minimum
      expect(at(0.95, { min_group_size: 2 })).toEqual([0, 0, 1, 1]);
      // one lone sample joins a group with room: 0.8 leaves only 90° alone
      expect(at(0.8, { min_group_size: 2 })).toEqual([0, 0, 0, 0]);
      expect(at(0.99, { min_group_size: 3 })).toEqual([0, 0, 0, 0]);
    });
    it('the generations of a prompt share its embedding, so they stay together', () => {
      const input: GroupingInput = {
        promptIds: i32(0, 0, 1, 1, 2, 2),
        rewards: new Float32Array(6),
        embeddings: [deg(0), deg(0), deg(90), deg(90), deg(5), deg(5)],
      };
      expect(run(input, { strategy: 'semantic', options: { similarity_threshold: 0.9 } })).toEqual([
        0, 0, 1, 1, 0, 0,
      ]);
    });
  });
  it('names the missing input when there are no embeddings', () => {
    expect(() => run(eight, { strategy: 'semantic' })).toThrow(
      /needs embeddings.*'embedding' List<Float32> column.*embedder/,
    );
  });
});

describe('multi_criteria', () => {
  const four = { promptIds: i32(0, 0, 1, 1), rewards: f32(0, 0, 1, 1) };
  it('positive reward_weight mixes rewards within groups, negative groups like rewards', () => {
    const only = (w: number) => ({ embedding_weight: 0, diversity_weight: 0, reward_weight: w });
    expect(run(four, { strategy: 'multi_criteria', options: only(1) })).toEqual([0, 1, 0, 1]);
    expect(run(four, { strategy: 'multi_criteria', options: only(-1) })).toEqual([0, 0, 1, 1]);
  });
  it('diversity from completion lengths when there are no embeddings', () => {
    const input = { ...four, rewards: f32(1, 1, 1, 1), completionLengths: i32(10, 10, 100, 100) };
    const options = { embedding_weight: 0, reward_weight: 0, diversity_weight: 1 };
    expect(run(input, { strategy: 'multi_criteria', options })).toEqual([0, 1, 0, 1]);
  });
  it('embedding similarity alone recovers the clusters', () => {
    const options = { embedding_weight: 1, reward_weight: 0, diversity_weight: 0 };
    expect(run(clustered, { strategy: 'multi_criteria', options })).toEqual([
      0, 1, 0, 1, 1, 0, 1, 0,
    ]);
  });
  it('affinity = 0.4 cos + 0.3 |dz(reward)| + 0.3 |dz(diversity)| (hand-computed)', () => {
    const s = Math.SQRT1_2;
    const input = {
      promptIds: i32(0, 1, 2),
      rewards: f32(0, 1, 2),
      embeddings: [f32(1, 0), f32(0, 1), f32(s, s)],
    };
    const a = multiCriteriaAffinity(input, multiCriteriaGroupsOptions.parse({}));
    // z(r) = [-1.2247, 0, 1.2247]; diversity = mean cos distance [0.64645, 0.64645, 0.29289] -> z [0.7071, 0.7071, -1.4142]
    expect(a[0]).toBeCloseTo(0.4, 6);
    expect(a[1]).toBeCloseTo(0.3 * 1.224745, 5);
    expect(a[2]).toBeCloseTo(0.4 * 0.707107 + 0.3 * 2.44949 + 0.3 * 2.12132, 5);
    expect(a[5]).toBeCloseTo(0.4 * 0.707107 + 0.3 * 1.224745 + 0.3 * 2.12132, 5);
    expect(a[3 * 2 + 1]).toBe(a[5]);
  });
});

describe('adaptive', () => {
  const schedule = [
    { until: 0.3, strategy: 'random' },
    { until: 0.7, strategy: 'performance' },
    { strategy: 'semantic' },
  ];
  it('switches at the progress points of the schedule', () => {
    const phases = [0, 2, 3, 6, 7, 9, 12].map(
      (step) =>
        activePhase(
          { schedule: schedule.map((p) => ({ ...p, options: {} })) },
          { step, totalSteps: 10 },
        ).strategy,
    );
    expect(phases).toEqual([
      'random',
      'random',
      'performance',
      'performance',
      'semantic',
      'semantic',
      'semantic',
    ]);
  });
  it('groups exactly as the phase strategy does', () => {
    const request = { strategy: 'adaptive', options: { schedule } };
    for (const [step, strategy] of [
      [2, 'random'],
      [5, 'performance'],
      [8, 'semantic'],
    ] as const) {
      expect(run(clustered, request, 11, step)).toEqual(run(clustered, { strategy }, 11, step));
    }
    expect(run(clustered, request, 11, 8)).toEqual([0, 1, 0, 1, 1, 0, 1, 0]);
  });
  it("defaults to the guides' schedule: random to 30%, performance to 70%, then semantic", () => {
    for (const [step, strategy] of [
      [2, 'random'],
      [5, 'performance'],
      [8, 'semantic'],
    ] as const) {
      expect(run(clustered, { strategy: 'adaptive' }, 11, step)).toEqual(
        run(clustered, { strategy }, 11, step),
      );
    }
  });
  it('rejects a bad schedule with the key path', () => {
    const bad = (s: unknown) => () =>
      run(eight, { strategy: 'adaptive', options: { schedule: s } });
    expect(bad([{ strategy: 'random' }, { strategy: 'semantic' }])).toThrow(
      /schedule\.0\.until: every phase but the last needs until/,
    );
    expect(
      bad([
        { until: 0.5, strategy: 'random' },
        { until: 0.4, strategy: 'random' },
        { strategy: 'random' },
      ]),
    ).toThrow(/schedule\.1\.until: must be greater than the previous phase's until \(0\.5\)/);
    expect(bad([{ until: 0.5, strategy: 'semantik' }, { strategy: 'random' }])).toThrow(
      /Did you mean 'semantic'/,
    );
  });
});
