import { describe, expect, it } from 'vitest';
import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { RecordBatch } from 'apache-arrow';
import {
  emptyContext,
  makeRecordBatch,
  readFloat32Column,
  withBatchMeta,
  type StageDefinition,
} from '@rxrl/core/base';
import {
  DYNAMIC_SAMPLING_KEEP_COLUMN,
  dynamicSamplingStage,
  stepComplete,
} from './dynamicSamplingStage';

// filter.dynamic_sampling as marbles: which rows each batch keeps, and whether the step
// is complete ('c') or wants another batch ('m'), batch by batch.
const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

/** Step `step`, round `round`: groups of two samples, `rewards[g]` group g's two rewards. */
const batch = (step: number, round: number, rewards: [number, number][]) =>
  withBatchMeta(
    makeRecordBatch({
      group_id: Int32Array.from({ length: rewards.length * 2 }, (_, i) => Math.floor(i / 2)),
      reward: Float32Array.from(rewards.flat()),
    }),
    { step, round },
  );

const stage = (options: Record<string, unknown>, metrics: Record<string, number>[] = []) => {
  const def: StageDefinition = dynamicSamplingStage;
  return def.create(
    def.schema.parse(options),
    emptyContext((m) => metrics.push(m)),
  );
};
const marks = map((b: RecordBatch) => ({
  keep: Array.from(readFloat32Column(b, DYNAMIC_SAMPLING_KEEP_COLUMN)),
  complete: stepComplete(b),
}));

describe('filter.dynamic_sampling', () => {
  it('keeps the first target groups whose rewards differ, in order, and counts the surplus', () => {
    const metrics: Record<string, number>[] = [];
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('a|', {
        a: batch(1, 0, [
          [1, 1],
          [0, 1],
          [0, 0],
          [1, 0],
          [0, 1],
        ]),
      });
      expectObservable(source.pipe(stage({ target_groups: 2 }, metrics), marks)).toBe('A|', {
        A: { keep: [0, 0, 1, 1, 0, 0, 1, 1, 0, 0], complete: true },
      });
    });
    expect(metrics).toEqual([
      {
        dynamic_sampling_num_gen_batches: 1,
        dynamic_sampling_kept_groups: 2,
        dynamic_sampling_kept_fraction: 2 / 5,
        dynamic_sampling_num_discarded_valid_samples: 2,
      },
    ]);
  });

  it("asks for more until enough groups differ, counting per step from the batches' metadata", () => {
    const metrics: Record<string, number>[] = [];
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('a-b-c-d|', {
        a: batch(4, 0, [
          [0, 0],
          [0, 1],
        ]),
        b: batch(4, 1, [
          [0, 0],
          [1, 1],
        ]),
        c: batch(4, 2, [
          [1, 0],
          [0, 0],
          [0, 1],
          [1, 0],
        ]),
        // the next step starts afresh
        d: batch(5, 0, [
          [1, 0],
          [1, 0],
          [1, 0],
        ]),
      });
      expectObservable(source.pipe(stage({ target_groups: 3 }, metrics), marks)).toBe('A-B-C-D|', {
        A: { keep: [0, 0, 1, 1], complete: false },
        B: { keep: [0, 0, 0, 0], complete: false },
        C: { keep: [1, 1, 0, 0, 1, 1, 0, 0], complete: true },
        D: { keep: [1, 1, 1, 1, 1, 1], complete: true },
      });
    });
    expect(metrics[2]).toEqual({
      dynamic_sampling_num_gen_batches: 3,
      dynamic_sampling_kept_groups: 3,
      dynamic_sampling_kept_fraction: 3 / 8,
      dynamic_sampling_num_discarded_valid_samples: 2,
    });
    expect(metrics[3]!['dynamic_sampling_num_gen_batches']).toBe(1);
  });

  it('fails after max_gen_batches batches of a step without enough varying groups, naming the setting', () => {
    const flat = (round: number) =>
      batch(2, round, [
        [1, 1],
        [0, 0],
      ]);
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('abc|', { a: flat(0), b: flat(1), c: flat(2) });
      expectObservable(source.pipe(stage({ target_groups: 1, max_gen_batches: 3 }), marks)).toBe(
        'AB#',
        { A: { keep: [0, 0, 0, 0], complete: false }, B: { keep: [0, 0, 0, 0], complete: false } },
        expect.objectContaining({
          message: expect.stringMatching(
            /after 3 generation batches \(grpo\.dynamic_sampling_max_gen_batches\) only 0 of the 1/,
          ),
        }),
      );
    });
  });

  it('a batch without the filter is always complete', () => {
    expect(stepComplete(batch(1, 0, [[0, 1]]))).toBe(true);
  });
});
