import { describe, expect, it } from 'vitest';
import { concatMap, defer, filter, finalize, map } from 'rxjs';
import { makeRecordBatch, readInt32Column, type Stage } from '@rxrl/core/base';
import { openGraphSession } from './graphSession';

const batch = (x: number) => makeRecordBatch({ x: Int32Array.of(x) });
const xOf = (b: { numRows: number } & Parameters<typeof readInt32Column>[0]) =>
  readInt32Column(b, 'x')[0];

describe('openGraphSession', () => {
  it('subscribes the graph once: stage state lives across pushes, and close ends it', async () => {
    let subscriptions = 0;
    let finalized = 0;
    // a stage with per-subscription state: a running count added to each batch
    const counting: Stage = (source) =>
      defer(() => {
        subscriptions++;
        let seen = 0;
        return source.pipe(
          concatMap(async (b) => makeRecordBatch({ x: Int32Array.of(xOf(b)! + 100 * ++seen) })),
          finalize(() => finalized++),
        );
      });
    const session = openGraphSession(counting);
    expect(xOf(await session.push(batch(1)))).toBe(101);
    expect(xOf(await session.push(batch(2)))).toBe(202);
    expect(xOf(await session.push(batch(3)))).toBe(303);
    expect(subscriptions).toBe(1);
    session.close();
    expect(finalized).toBe(1);
    await expect(session.push(batch(4))).rejects.toThrow(/closed/);
  });

  it('hands a stage error to the waiting push and to every later one', async () => {
    const failing: Stage = map((b) => {
      if (xOf(b) === 2) throw new Error('bad batch 2');
      return b;
    });
    const session = openGraphSession(failing);
    expect(xOf(await session.push(batch(1)))).toBe(1);
    await expect(session.push(batch(2))).rejects.toThrow('bad batch 2');
    await expect(session.push(batch(3))).rejects.toThrow('bad batch 2');
  });

  it('reports a graph that completes early instead of waiting forever', async () => {
    const session = openGraphSession((source) => source.pipe(filter(() => false)));
    session.close();
    await expect(session.push(batch(1))).rejects.toThrow(/closed/);
    const ends: Stage = () => defer(() => []);
    await expect(openGraphSession(ends).push(batch(1))).rejects.toThrow(/completed/);
  });
});
