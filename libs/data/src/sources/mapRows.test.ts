import { describe, expect, it } from 'vitest';
import { lastValueFrom, toArray } from 'rxjs';
import { RxrlDataError } from '@rxrl/core/base';
import { locateErrors, mapRows } from './mapRows';
import { fromRows } from './memory';
import { readRows } from './readRows';
import { SkipStats } from './skipStats';

// a format-style parser that knows nothing about files
const parse = (data: Record<string, unknown>) => {
  if (typeof data.prompt !== 'string') {
    throw new RxrlDataError('row 1: missing field "prompt" (expected a string)', {
      field: 'prompt',
      row: 1,
    });
  }
  return data.prompt.toUpperCase();
};

describe('mapRows', () => {
  it('prefixes a format error with the file and line, keeping the field', () => {
    const row = { source: 'train.jsonl', row: 1, line: 4, data: { text: 'x' } };
    const err = (() => {
      try {
        locateErrors(row, parse);
      } catch (e) {
        return e as RxrlDataError;
      }
    })()!;
    expect(err.message).toBe('line 4 of train.jsonl: missing field "prompt" (expected a string)');
    expect(err.location).toEqual({ source: 'train.jsonl', line: 4, row: 1, field: 'prompt' });
    expect(locateErrors({ ...row, data: { prompt: 'a' } }, parse)).toBe('A');
  });

  it('fails the stream, or skips and counts with skip_invalid', async () => {
    const rows$ = () =>
      readRows(fromRows([{ prompt: 'a' }, { text: 'b' }, { prompt: 'c' }], { name: 'mem' }), {
        shuffle: false,
      });
    await expect(lastValueFrom(rows$().pipe(mapRows(parse)))).rejects.toThrow(
      /^row 1 of mem: missing field "prompt"/,
    );
    const stats = new SkipStats();
    const out = await lastValueFrom(
      rows$().pipe(mapRows(parse, { skip_invalid: true, stats }), toArray()),
    );
    expect(out).toEqual(['A', 'C']);
    expect(stats.toMetrics(0)).toEqual([
      { step: 0, name: 'train/data/skipped_invalid', value: 1 },
      { step: 0, name: 'train/data/skipped_invalid/invalid_format', value: 1 },
    ]);
  });
});
