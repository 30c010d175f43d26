import { describe, expect, it } from 'vitest';
import { refillVaryingGroups } from './dynamicSamplingRefill';
import type { RolloutRows } from './rolloutRows';

/**
 * A generation batch of groups of two samples; `rewards[g]` are group g's two
 * rewards. Sample i's prompt is [tag, i], its completion [tag, i, i] and its
 * text `${tag}:${i}`, so every selected row can be traced to its source.
 */
function batch(tag: number, rewards: [number, number][]): RolloutRows {
  const n = rewards.length * 2;
  const ragged = (len: number, value: (i: number, k: number) => number) => ({
    values: Int32Array.from({ length: n * len }, (_, j) => value(Math.floor(j / len), j % len)),
    offsets: Int32Array.from({ length: n + 1 }, (_, i) => i * len),
  });
  const completions = ragged(3, (i, k) => (k === 0 ? tag : i));
  return {
    prompts: ragged(2, (i, k) => (k === 0 ? tag : i)),
    completions,
    genLogprobs: {
      values: Float32Array.from(completions.values, (v) => -v),
      offsets: completions.offsets,
    },
    rewards: Float32Array.from(rewards.flat()),
    advantages: Float32Array.from(rewards.flatMap(([a, b]) => [a - (a + b) / 2, b - (a + b) / 2])),
    sampleMask: new Float32Array(n).fill(1),
    groupIds: Int32Array.from({ length: n }, (_, i) => Math.floor(i / 2)),
    finishReasons: new Array(n).fill('stop'),
    promptTexts: Array.from({ length: n }, (_, i) => `p${tag}:${i}`),
    completionTexts: Array.from({ length: n }, (_, i) => `${tag}:${i}`),
    answers: new Array(n).fill('1'),
  };
}

const never = async () => {
  throw new Error('next() must not be called');
};

describe('refillVaryingGroups', () => {
  it('keeps the first target groups whose rewards differ, in order, and counts the surplus', async () => {
    const b = batch(1, [
      [1, 1],
      [0, 1],
      [0, 0],
      [1, 0],
      [0, 1],
    ]);
    const r = await refillVaryingGroups(b, never, { targetGroups: 2, maxGenBatches: 3 });
    expect(r.rows.completionTexts).toEqual(['1:2', '1:3', '1:6', '1:7']);
    expect([...r.rows.groupIds]).toEqual([0, 0, 1, 1]);
    expect([...r.rows.rewards]).toEqual([0, 1, 1, 0]);
    expect([...r.rows.advantages]).toEqual([-0.5, 0.5, 0.5, -0.5]);
    expect(r).toMatchObject({
      keptGroups: 2,
      generatedGroups: 5,
      discardedValidSamples: 2,
      exhausted: false,
    });
    expect(r.generated).toHaveLength(1);
  });

  it('generates further batches until enough groups differ, joining rows and renumbering groups', async () => {
    const queue = [
      batch(2, [
        [0, 0],
        [1, 1],
      ]),
      batch(3, [
        [1, 0],
        [0, 0],
        [0, 1],
        [1, 0],
      ]),
    ];
    const first = batch(1, [
      [0, 0],
      [0, 1],
    ]);
    const r = await refillVaryingGroups(first, async () => queue.shift(), {
      targetGroups: 3,
      maxGenBatches: 5,
    });
    expect(r.generated).toHaveLength(3);
    expect(r.rows.completionTexts).toEqual(['1:2', '1:3', '3:0', '3:1', '3:4', '3:5']);
    expect([...r.rows.groupIds]).toEqual([0, 0, 1, 1, 2, 2]);
    expect(r).toMatchObject({ keptGroups: 3, generatedGroups: 8, discardedValidSamples: 2 });
    // ragged columns are gathered row by row from their own batch
    expect([...r.rows.prompts.offsets]).toEqual([0, 2, 4, 6, 8, 10, 12]);
    expect([...r.rows.prompts.values]).toEqual([1, 2, 1, 3, 3, 0, 3, 1, 3, 4, 3, 5]);
    expect([...r.rows.completions.values.subarray(6, 9)]).toEqual([3, 0, 0]);
    expect([...r.rows.genLogprobs.values.subarray(6, 9)]).toEqual([-3, -0, -0]);
  });

  it('fails after maxGenBatches batches without enough varying groups, naming the setting', async () => {
    const flat = () =>
      batch(9, [
        [1, 1],
        [0, 0],
      ]);
    let calls = 0;
    await expect(
      refillVaryingGroups(
        flat(),
        async () => {
          calls++;
          return flat();
        },
        { targetGroups: 1, maxGenBatches: 3 },
      ),
    ).rejects.toThrow(
      /after 3 generation batches \(grpo\.dynamic_sampling_max_gen_batches\) only 0 of the 1/,
    );
    expect(calls).toBe(2);
  });

  it('returns the groups it has when the epoch runs out of prompts', async () => {
    const r = await refillVaryingGroups(
      batch(1, [
        [0, 1],
        [1, 1],
      ]),
      async () => undefined,
      { targetGroups: 4, maxGenBatches: 10 },
    );
    expect(r).toMatchObject({ keptGroups: 1, exhausted: true });
    expect(r.rows.completionTexts).toEqual(['1:0', '1:1']);
  });
});
