import { afterAll, describe, expect, it } from 'vitest';
import { firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import { RxrlDataError } from '@rxrl/core/base';
import { tempDir } from '../../test/tmp';
import { openJsonl } from './jsonl';
import { readRows } from './readRows';
import { SkipStats } from './skipStats';
import { readSource } from './readSource';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const all = (path: string, opts: Parameters<typeof readSource>[1] = {}) =>
  lastValueFrom(readSource(path, { shuffle: false, ...opts }).pipe(toArray()));

describe('JSONL source', () => {
  it('reads objects with a BOM, CRLF, blank lines and no final newline, keeping line numbers', async () => {
    const path = tmp.write('a.jsonl', '\uFEFF{"x":1}\r\n\r\n   \n{"x":2,"s":"é"}\r\n\n{"x":3}');
    const rows = await all(path);
    expect(rows.map((r) => r.data)).toEqual([{ x: 1 }, { x: 2, s: 'é' }, { x: 3 }]);
    expect(rows.map((r) => r.line)).toEqual([1, 4, 6]);
    expect(rows.map((r) => r.row)).toEqual([0, 1, 2]);
  });

  it('indexes the same lines whatever the read chunk size', async () => {
    const lines = Array.from({ length: 40 }, (_, i) =>
      i % 7 === 3 ? '' : JSON.stringify({ i, pad: 'x'.repeat(i % 5) }),
    );
    const path = tmp.write('chunks.jsonl', lines.join('\r\n') + '\n');
    const expected = lines.flatMap((l, i) => (l ? [i + 1] : []));
    for (const chunk of [1, 3, 7, 64, 1 << 20]) {
      const reader = await openJsonl(path, { chunk_bytes: chunk, block_rows: 5 });
      const rows = await lastValueFrom(readRows(reader, { shuffle: false }).pipe(toArray()));
      expect(rows.map((r) => r.line)).toEqual(expected);
      expect(rows.map((r) => (r.data as { i: number }).i)).toEqual(expected.map((l) => l - 1));
      await reader.close();
    }
  });

  it('names file and line for a malformed JSON line', async () => {
    const path = tmp.write('bad.jsonl', '{"x":1}\n\n{"x":\n{"x":3}\n');
    const err = await all(path).catch((e) => e);
    expect(err).toBeInstanceOf(RxrlDataError);
    expect(err.message).toMatch(new RegExp(`^line 3 of ${path}: not valid JSON`));
    expect(err.location).toMatchObject({ source: path, line: 3, row: 1 });
  });

  it('names file, line and field for a missing or wrongly typed field', async () => {
    const path = tmp.write(
      'fields.jsonl',
      '{"prompt":"a","answer":"1"}\n{"prompt":"b"}\n{"prompt":7,"answer":"2"}\n',
    );
    const fields = { prompt: 'string', answer: 'string' } as const;
    const missing = await all(path, { fields }).catch((e) => e);
    expect(missing.message).toBe(
      `line 2 of ${path}: field 'answer': missing (expected string; fields present: prompt)`,
    );
    expect(missing.location).toMatchObject({ line: 2, field: 'answer' });
    const wrong = await all(tmp.write('wrong.jsonl', '{"prompt":7,"answer":"2"}\n'), {
      fields,
    }).catch((e) => e);
    expect(wrong.message).toMatch(
      /line 1 of .*wrong\.jsonl: field 'prompt': expected string, got integer/,
    );
  });

  it('says when a .json file is a JSON array rather than JSON Lines', async () => {
    const err = await all(tmp.write('array.json', '[\n  {"a": 1}\n]\n')).catch((e) => e);
    expect(err.message).toMatch(
      /^line 1 of .*array\.json: not valid JSON .*looks like a JSON array, expected JSON Lines/,
    );
  });

  it('rejects a line that is not an object', async () => {
    const err = await all(tmp.write('arr.jsonl', '{"a":1}\n[1,2]\n')).catch((e) => e);
    expect(err.message).toMatch(/line 2 of .*: expected a JSON object, got an array/);
  });

  it('skips and counts invalid rows with skip_invalid, reporting reasons as metrics', async () => {
    const path = tmp.write(
      'mixed.jsonl',
      [
        '{"prompt":"a"}',
        '{oops',
        '{"prompt":1}',
        '"text"',
        '{}',
        '{"prompt":"b"}',
        '{"prompt":',
      ].join('\n'),
    );
    const skipped: string[] = [];
    const stats = new SkipStats(2, (reason) => skipped.push(reason));
    const rows = await all(path, { skip_invalid: true, stats, fields: { prompt: 'string' } });
    expect(rows.map((r) => r.data.prompt)).toEqual(['a', 'b']);
    expect(skipped).toEqual([
      'malformed_json',
      'wrong_type',
      'not_an_object',
      'missing_field',
      'malformed_json',
    ]);
    expect(stats.seen).toBe(7);
    expect(stats.skipped).toBe(5);
    expect(stats.examples.map((e) => e.location.line)).toEqual([2, 3]);
    expect(stats.toMetrics(10)).toEqual([
      { step: 10, name: 'train/data/skipped_invalid', value: 5 },
      { step: 10, name: 'train/data/skipped_invalid/malformed_json', value: 2 },
      { step: 10, name: 'train/data/skipped_invalid/missing_field', value: 1 },
      { step: 10, name: 'train/data/skipped_invalid/not_an_object', value: 1 },
      { step: 10, name: 'train/data/skipped_invalid/wrong_type', value: 1 },
    ]);
    expect(stats.summary()).toBe(
      'skipped 5 of 7 rows (malformed_json: 2, wrong_type: 1, not_an_object: 1, missing_field: 1)',
    );
  });

  it('fails on an empty or blank-only file and a missing file, naming it', async () => {
    for (const body of ['', '\n\r\n  \n']) {
      const path = tmp.write('empty.jsonl', body);
      await expect(openJsonl(path)).rejects.toThrow(`JSONL file ${path} is empty`);
    }
    await expect(openJsonl(`${tmp.dir}/nope.jsonl`)).rejects.toThrow(
      /cannot open JSONL file .*nope\.jsonl/,
    );
  });

  it('emits the first row before later blocks are read', async () => {
    const path = tmp.write(
      'lazy.jsonl',
      Array.from({ length: 50 }, (_, i) => `{"i":${i}}`).join('\n'),
    );
    const reader = await openJsonl(path, { block_rows: 10 });
    const reads: number[] = [];
    const readBlock = reader.readBlock.bind(reader);
    reader.readBlock = (b, w) => (reads.push(b), readBlock(b, w));
    const first = await firstValueFrom(readRows(reader, { shuffle: false }));
    expect(first.data).toEqual({ i: 0 });
    expect(reads).toEqual([0]);
    await reader.close();
  });
});
