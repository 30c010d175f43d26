import { describe, expect, it } from 'vitest';
import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import {
  emptyContext,
  makeRecordBatch,
  readFloat32Column,
  type Stage,
  type StageDefinition,
} from '@rxrl/core/base';
import { advantagesStage } from './advantagesStage';
import { overlongFilterStage } from './overlongFilterStage';

// Marble diagrams of the grouping stages: batches in and out on virtual time, so
// ordering, timing, errors and completion are stated exactly.
const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

const make = (def: StageDefinition, options: Record<string, unknown> = {}): Stage =>
  def.create(def.schema.parse(options), emptyContext());

/** A two-sample group with rewards (r0, r1); `finish` gives each sample's finish_reason. */
const group = (r0: number, r1: number, finish: [string, string] = ['stop', 'stop']) =>
  makeRecordBatch({
    group_id: Int32Array.of(0, 0),
    reward: Float32Array.of(r0, r1),
    finish_reason: finish,
  });
const column = (name: string) =>
  map((b: Parameters<typeof readFloat32Column>[0]) => Array.from(readFloat32Column(b, name)));

describe('grouping.advantages, as marbles', () => {
  const stage = make(advantagesStage, { scale_rewards: 'none' });

  it('maps each batch in order at the time it arrives, and completes with its source', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('-a--b-c|', { a: group(1, 0), b: group(0, 2), c: group(3, 3) });
      expectObservable(source.pipe(stage, column('advantage'))).toBe('-A--B-C|', {
        A: [0.5, -0.5],
        B: [-1, 1],
        C: [0, 0],
      });
    });
  });

  it('passes a burst of batches through one by one, none dropped or reordered', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('(abc)|', { a: group(1, 0), b: group(0, 2), c: group(2, 0) });
      expectObservable(source.pipe(stage, column('advantage'))).toBe('(ABC)|', {
        A: [0.5, -0.5],
        B: [-1, 1],
        C: [1, -1],
      });
    });
  });

  it('errors on a batch without the reward column, after the batches before it', () => {
    const noReward = makeRecordBatch({ group_id: Int32Array.of(0, 0) });
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c|', { a: group(1, 0), b: noReward, c: group(0, 1) });
      expectObservable(source.pipe(stage, column('advantage'))).toBe(
        '-A-#',
        { A: [0.5, -0.5] },
        expect.objectContaining({ message: expect.stringMatching(/reward/) }),
      );
    });
  });

  it('passes an upstream error through unchanged', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('-a-#', { a: group(0, 1) }, new Error('upstream'));
      expectObservable(source.pipe(stage, column('advantage'))).toBe(
        '-A-#',
        { A: [-0.5, 0.5] },
        new Error('upstream'),
      );
    });
  });
});

describe('filter.overlong, as marbles', () => {
  const stage = make(overlongFilterStage);

  it('masks truncated samples batch by batch, in order, and completes', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('a-b--|', {
        a: group(1, 0, ['length', 'stop']),
        b: group(1, 1, ['stop', 'stop']),
      });
      expectObservable(source.pipe(stage, column('sample_mask'))).toBe('A-B--|', {
        A: [0, 1],
        B: [1, 1],
      });
    });
  });

  it('refuses a batch that already has a sample_mask (it never rewrites a column)', () => {
    const masked = makeRecordBatch({
      finish_reason: ['stop'],
      sample_mask: Float32Array.of(1),
    });
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(
        cold('a-b|', { a: group(0, 1), b: masked }).pipe(stage, column('sample_mask')),
      ).toBe(
        'A-#',
        { A: [1, 1] },
        expect.objectContaining({ message: expect.stringMatching(/already has a 'sample_mask'/) }),
      );
    });
  });
});
