import { describe, expect, it } from 'vitest';
import { concatMap, delay, map, mergeMap, of } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { z } from 'zod';
import type { RecordBatch } from 'apache-arrow';
import {
  addColumns,
  defineStage,
  emptyContext,
  makeRecordBatch,
  readInt32Column,
} from '@rxrl/core/base';
import { buildGraph } from './graph';
import { StageRegistry } from './stageRegistry';

// Marble diagrams of graphs built from registered definitions: how batches move
// through a chain of stages on virtual time (each frame is 1 ms).
const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

/** `work.serial` / `work.parallel`: adds x + 1 as column `y` after `frames` of (virtual) work. */
const work = (name: string, concurrency: 'serial' | 'parallel') =>
  defineStage({
    name,
    description: `x + 1 after some frames, ${concurrency}`,
    schema: z.strictObject({ frames: z.int().min(0).default(3) }),
    requires: ['x'],
    produces: ['y'],
    create: (o) => {
      const step = (b: RecordBatch) =>
        of(addColumns(b, { y: Int32Array.from(readInt32Column(b, 'x'), (v) => v + 1) })).pipe(
          delay(o.frames),
        );
      return concurrency === 'serial' ? concatMap(step) : mergeMap(step);
    },
  });

/** `work.double`: adds 2y as `z`, at once. */
const double = defineStage({
  name: 'work.double',
  description: '2y as z',
  schema: z.strictObject({}),
  requires: ['y'],
  produces: ['z'],
  create: () =>
    map((b) => {
      const y = readInt32Column(b, 'y');
      if (y[0]! < 0) throw new Error(`negative y ${y[0]}`);
      return addColumns(b, { z: Int32Array.from(y, (v) => 2 * v) });
    }),
});

const registry = new StageRegistry([
  work('work.serial', 'serial'),
  work('work.parallel', 'parallel'),
  double,
]);
const batch = (x: number) => makeRecordBatch({ x: Int32Array.of(x) });
const values = { a: batch(1), b: batch(2), c: batch(3), n: batch(-5) };
const zOf = map((b: RecordBatch) => readInt32Column(b, 'z')[0]);
const graph = (first: string, frames = 3) =>
  buildGraph([{ stage: first, options: { frames } }, { stage: 'work.double' }], emptyContext(), {
    registry,
    sourceColumns: ['x'],
  });

describe('a built graph, as marbles', () => {
  it('a serial stage takes one batch at a time: later batches wait, order is kept', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('ab-c|', values);
      // a done at 3, b starts then and is done at 6, c (arrived at 3) at 9; completion waits for c
      expectObservable(source.pipe(graph('work.serial'), zOf)).toBe('---A--B--(C|)', {
        A: 4,
        B: 6,
        C: 8,
      });
    });
  });

  it('a parallel stage overlaps its batches, each out after its own work', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('ab-c|', values);
      expectObservable(source.pipe(graph('work.parallel'), zOf)).toBe('---AB-(C|)', {
        A: 4,
        B: 6,
        C: 8,
      });
    });
  });

  it('an error in a later stage ends the stream after the batches before it', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('a-n-c|', values);
      expectObservable(source.pipe(graph('work.serial', 1), zOf)).toBe(
        '-A-#',
        { A: 4 },
        new Error('negative y -4'),
      );
    });
  });

  it('an empty source completes at once; unsubscribing stops the work in flight', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold<RecordBatch>('|').pipe(graph('work.serial'), zOf)).toBe('|');
      const source = cold('abc|', values);
      expectObservable(source.pipe(graph('work.serial'), zOf), '^----!').toBe('---A-', { A: 4 });
    });
  });
});
