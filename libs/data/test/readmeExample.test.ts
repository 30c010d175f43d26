// The README's sources/collation example, run as written (imports point at the sources
// instead of the package entry so this test does not depend on the tokenizer modules).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { lastValueFrom, toArray } from 'rxjs';
import { SkipStats, batchRows, readSource } from '../src/sources/index';
import { padSequences } from '../src/collate/index';

const dir = mkdtempSync(join(tmpdir(), 'rxrl-readme-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('runs the README example', async () => {
  const path = join(dir, 'demo.jsonl');
  writeFileSync(
    path,
    [
      '{"prompt": "1+1", "answer": "2", "tokens": [5, 6]}',
      '{"prompt": "2+3", "answer": "5", "tokens": [7, 8, 9]}',
      '{"prompt": "oops"',
      '{"prompt": "4+4", "answer": "8", "tokens": [4]}',
    ].join('\n'),
  );
  const stats = new SkipStats();
  const batches = await lastValueFrom(
    readSource(path, {
      seed: 1,
      num_epochs: 2,
      skip_invalid: true,
      stats,
      fields: { prompt: 'string', answer: 'string', tokens: 'array' },
    }).pipe(batchRows(2), toArray()),
  );
  const { rows, cursor } = batches[0]!;
  const padded = padSequences(
    rows.map((r) => r.data.tokens as number[]),
    { padding_side: 'left', pad_token_id: 0 },
  );
  expect(batches.map((b) => b.rows.length)).toEqual([2, 2, 2]);
  expect(stats.summary()).toBe('skipped 2 of 8 rows (malformed_json: 2)');
  expect(stats.examples[0]!.message).toMatch(/^line 3 of .*demo\.jsonl: not valid JSON/);
  expect(padded.seqLen).toBe(Math.max(...rows.map((r) => (r.data.tokens as number[]).length)));
  expect(cursor!.epoch).toBe(0);
  // the first batch's cursor resumes with the remaining four rows
  const rest = await lastValueFrom(
    readSource(path, { seed: 1, num_epochs: 2, skip_invalid: true, cursor }).pipe(toArray()),
  );
  expect(rest.map((r) => r.data.prompt)).toEqual(
    batches.slice(1).flatMap((b) => b.rows.map((r) => r.data.prompt)),
  );
});
