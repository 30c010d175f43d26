/**
 * Benchmark: rows/s and tokens/s through format parsing + tokenisation + loss
 * masks into batch-ready flat arrays, on the built-in tokenizer and on the real
 * Qwen3 tokenizer. Not run by the tests; run it with
 * `npx tsx libs/data/bench/tokenize.ts [rows] [batch_size]`.
 */
import type { Tokenizer } from '@rxrl/core/base';
import { BuiltinTokenizer } from '../src/tokenizer/builtinTokenizer';
import { HfTokenizer } from '../src/tokenizer/hfTokenizer';
import { qwen3TokenizerDir } from '../src/tokenizer/qwen3Fixture';
import { tokenizeSftRows } from '../src/formats/tokenizeSft';
import { tokenizeGrpoRows } from '../src/formats/tokenizeGrpo';
import { ArithmeticTask } from '../src/tasks/arithmetic';

export interface TokenizeBenchRecord {
  tokenizer: 'builtin' | 'qwen3';
  /** `sft_plain` (prompt/completion strings), `sft_chat` (messages, assistant-only mask), `grpo_chat` (templated prompts). */
  case: 'sft_plain' | 'sft_chat' | 'grpo_chat';
  rows: number;
  tokens: number;
  seconds: number;
  rowsPerSecond: number;
  tokensPerSecond: number;
}

/** Time tokenising `rows` arithmetic rows per case and tokenizer, `batch_size` rows per call. */
export async function benchTokenize(rows = 5_000, batch_size = 64): Promise<TokenizeBenchRecord[]> {
  const tokenizers: [TokenizeBenchRecord['tokenizer'], Tokenizer][] = [
    ['builtin', new BuiltinTokenizer()],
    ['qwen3', await HfTokenizer.fromDirectory(qwen3TokenizerDir())],
  ];
  // Long enough to matter: up to 4 operands of up to 4 digits, with a system prompt.
  const opts = { max_operands: 4, max_digits: 4, seed: 1 };
  const plain = new ArithmeticTask(opts).sftRows('train', rows);
  const chat = new ArithmeticTask({ ...opts, chat: true }).sftRows('train', rows).map((r) => ({
    ...r,
    messages: [{ role: 'system', content: 'Compute the value. Reply with the number only.' }, ...(r['messages'] as object[])],
  }));
  const grpo = new ArithmeticTask({ ...opts, chat: true }).grpoRows('train', rows);
  const cases: [TokenizeBenchRecord['case'], (t: Tokenizer, batch: Record<string, unknown>[]) => number][] = [
    ['sft_plain', (t, b) => tokenizeSftRows(t, b).stats.tokens],
    ['sft_chat', (t, b) => tokenizeSftRows(t, b, { loss_mask: 'assistant_only' }).stats.tokens],
    ['grpo_chat', (t, b) => tokenizeGrpoRows(t, b).stats.tokens],
  ];
  const data = { sft_plain: plain, sft_chat: chat, grpo_chat: grpo };
  const out: TokenizeBenchRecord[] = [];
  for (const [name, tok] of tokenizers) {
    for (const [caseName, run] of cases) {
      const all = data[caseName];
      run(tok, all.slice(0, batch_size)); // warm caches and JIT
      const start = performance.now();
      let tokens = 0;
      for (let i = 0; i < all.length; i += batch_size) tokens += run(tok, all.slice(i, i + batch_size));
      const seconds = (performance.now() - start) / 1000;
      out.push({
        tokenizer: name,
        case: caseName,
        rows: all.length,
        tokens,
        seconds,
        rowsPerSecond: all.length / seconds,
        tokensPerSecond: tokens / seconds,
      });
    }
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = Number(process.argv[2] ?? 5_000);
  const batchSize = Number(process.argv[3] ?? 64);
  console.table(await benchTokenize(rows, batchSize));
}
