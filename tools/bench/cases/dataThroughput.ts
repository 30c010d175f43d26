import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchCase, BenchRecord } from '../benchCase';

// libs/data keeps its benchmarks outside its package exports (and its tsconfig),
// so they are loaded by path at run time with the shapes declared here.
const DATA_BENCH = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'libs',
  'data',
  'bench',
);

interface JsonlBenchResult {
  rows: number;
  batches: number;
  seconds: number;
  rowsPerSecond: number;
  megabytesPerSecond: number;
}
interface TokenizeBenchRecord {
  tokenizer: string;
  case: string;
  rows: number;
  tokens: number;
  rowsPerSecond: number;
  tokensPerSecond: number;
}

async function load<T>(file: string, fn: string): Promise<T | undefined> {
  const path = join(DATA_BENCH, file);
  if (!existsSync(path)) return undefined;
  const mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  return mod[fn] as T;
}

/**
 * Data throughput: JSONL read + parse + batching into Arrow record batches
 * (libs/data/bench/jsonlBatch.ts), and format parsing + tokenisation + loss
 * masks (libs/data/bench/tokenize.ts), rows/s. Pure CPU, no tensors.
 */
export const dataThroughputCase: BenchCase = {
  name: 'data',
  async run(ctx) {
    const out: BenchRecord[] = [];
    const batch = 64;
    const jsonl = await load<(rows: number, batch: number) => Promise<JsonlBenchResult>>(
      'jsonlBatch.ts',
      'benchJsonlBatch',
    );
    if (jsonl) {
      const r = await jsonl(ctx.quick ? 20_000 : 100_000, batch);
      out.push({
        name: 'data_jsonl_batches',
        backend: 'none',
        batch,
        value: r.rowsPerSecond,
        unit: 'rows/s',
        notes: `${r.rows} rows, ${r.megabytesPerSecond.toFixed(1)} MB/s`,
      });
    }
    const tok = await load<(rows: number, batch: number) => Promise<TokenizeBenchRecord[]>>(
      'tokenize.ts',
      'benchTokenize',
    );
    if (tok) {
      for (const r of await tok(ctx.quick ? 1_000 : 5_000, batch)) {
        out.push({
          name: `data_tokenize_${r.case}_${r.tokenizer}`,
          backend: 'none',
          batch,
          value: r.rowsPerSecond,
          unit: 'rows/s',
          notes: `${(r.tokensPerSecond / 1000).toFixed(0)}k tokens/s`,
        });
      }
    }
    return out;
  },
};
