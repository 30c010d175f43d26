import { describe, expect, it } from 'vitest';
import { batchMeta, batchStep, withBatchMeta } from './batchMeta';
import { makeRecordBatch } from './columns';

describe('batch metadata: the one way a batch carries its step', () => {
  it('tags a batch with its step and round, keeping its columns and other metadata', () => {
    const batch = makeRecordBatch({ x: Int32Array.of(1, 2) }, new Map([['source', 'test']]));
    expect(batchMeta(batch)).toBeUndefined();
    expect(batchStep(batch)).toBe(0);
    const tagged = withBatchMeta(batch, { step: 7, round: 2 });
    expect(batchMeta(tagged)).toEqual({ step: 7, round: 2 });
    expect(batchStep(tagged)).toBe(7);
    expect(tagged.data.children[0]).toBe(batch.data.children[0]); // same columns, no copy
    expect(tagged.schema.metadata.get('source')).toBe('test');
    // retagging replaces, and the original is untouched
    expect(batchMeta(withBatchMeta(tagged, { step: 8, round: 0 }))).toEqual({ step: 8, round: 0 });
    expect(batchMeta(batch)).toBeUndefined();
  });
});
