// The README's tokenizer / task example, run as written (package entry imports).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ArithmeticTask, BuiltinTokenizer, HfTokenizer, tokenizeSftRows } from '../index';

const dir = mkdtempSync(join(tmpdir(), 'rxrl-tok-readme-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('runs the README tokenizer example', async () => {
  const task = new ArithmeticTask({ max_operands: 2, max_digits: 2, seed: 0 });
  const tok = new BuiltinTokenizer();
  const rows = task.sftRows('train', 4);
  const sft = tokenizeSftRows(tok, rows, { max_length: 16, truncation: 'drop' });
  expect(sft.stats).toMatchObject({ rows: 4, emitted: 4, dropped: 0 });
  expect(sft.input_tokens.offsets).toHaveLength(5);
  await tok.writeHfFiles(dir);
  const hf = await HfTokenizer.fromDirectory(dir);
  expect(hf.encode('12+7=')).toEqual(tok.encode('12+7='));
});
