import { describe, expect, it } from 'vitest';
import { joinRolloutRows, type RolloutRows } from './rolloutRows';

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

describe('joinRolloutRows', () => {
  it('joins the rows each part keeps, in order, gathering ragged columns from their own batch and renumbering groups', () => {
    const first = batch(1, [
      [0, 0],
      [0, 1],
    ]);
    const third = batch(3, [
      [1, 0],
      [0, 0],
      [0, 1],
      [1, 0],
    ]);
    // what filter.dynamic_sampling keeps of a step's batches (target 3 groups)
    const r = joinRolloutRows([
      { from: first, rows: [2, 3] },
      { from: third, rows: [0, 1, 4, 5] },
    ]);
    expect(r.completionTexts).toEqual(['1:2', '1:3', '3:0', '3:1', '3:4', '3:5']);
    expect([...r.groupIds]).toEqual([0, 0, 1, 1, 2, 2]);
    expect([...r.rewards]).toEqual([0, 1, 1, 0, 0, 1]);
    expect([...r.advantages]).toEqual([-0.5, 0.5, 0.5, -0.5, -0.5, 0.5]);
    expect([...r.prompts.offsets]).toEqual([0, 2, 4, 6, 8, 10, 12]);
    expect([...r.prompts.values]).toEqual([1, 2, 1, 3, 3, 0, 3, 1, 3, 4, 3, 5]);
    expect([...r.completions.values.subarray(6, 9)]).toEqual([3, 0, 0]);
    expect([...r.genLogprobs.values.subarray(6, 9)]).toEqual([-3, -0, -0]);
    expect(joinRolloutRows([]).rewards).toHaveLength(0);
  });
});
