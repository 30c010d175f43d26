/**
 * Benchmark: rows/s through JSONL read (index + parse) + fixed-size batching
 * into Arrow record batches. Not run by the tests; run it with
 * `npx tsx libs/data/bench/jsonlBatch.ts [rows] [batch_size]`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, reduce } from 'rxjs';
import { batchRows, readSource, toRecordBatches } from '../src/sources/index';

export interface JsonlBenchResult {
  rows: number;
  batches: number;
  fileBytes: number;
  seconds: number;
  rowsPerSecond: number;
  megabytesPerSecond: number;
}

/** Writes a synthetic GRPO-style JSONL file of `rows` rows and times reading it into batches of `batch_size`. */
export async function benchJsonlBatch(
  rows = 100_000,
  batch_size = 64,
  shuffle = true,
): Promise<JsonlBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'rxrl-bench-'));
  try {
    const lines: string[] = [];
    for (let i = 0; i < rows; i++) {
      const a = (i * 7919) % 1000;
      const b = (i * 104729) % 1000;
      lines.push(
        JSON.stringify({
          prompt: `What is ${a} + ${b}? Answer with a number.`,
          answer: String(a + b),
          id: i,
        }),
      );
    }
    const text = lines.join('\n') + '\n';
    const path = join(dir, 'bench.jsonl');
    writeFileSync(path, text);
    const start = performance.now();
    const batches = await lastValueFrom(
      readSource(path, { shuffle, seed: 1, fields: { prompt: 'string', answer: 'string' } }).pipe(
        batchRows(batch_size),
        toRecordBatches(),
        reduce((n) => n + 1, 0),
      ),
    );
    const seconds = (performance.now() - start) / 1000;
    const fileBytes = Buffer.byteLength(text);
    return {
      rows,
      batches,
      fileBytes,
      seconds,
      rowsPerSecond: rows / seconds,
      megabytesPerSecond: fileBytes / 1e6 / seconds,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = Number(process.argv[2] ?? 100_000);
  const batchSize = Number(process.argv[3] ?? 64);
  console.log(await benchJsonlBatch(rows, batchSize));
}
