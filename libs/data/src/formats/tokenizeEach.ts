import { emptyStats, type RowGuard, type TokenizeStats, type Truncation } from './truncation';
import type { Row } from './fields';

/** How {@link tokenizeEach} treats one kind of example (SFT sequence, preference pair, GRPO prompt). */
export interface ExampleShape<T> {
  /** parse and tokenise row `i` (inside the guard: a bad row throws or is skipped) */
  tokenize(row: Row, i: number): T;
  /** the length `max_length` limits */
  length(example: T): number;
  /** the example cut to `max` under `truncate_left` / `truncate_right`; null when it cannot be (then it is dropped) */
  cut(example: T, max: number, keepStart: boolean): T | null;
  /** take a kept example (weight 0 under `keep` when over-length); returns the tokens it holds */
  emit(example: T, weight: number, stats: TokenizeStats): number;
}

/**
 * The row loop every tokeniser shares: tokenise each row through `guard`, apply
 * `max_length` / `truncation` (`drop`, `keep` with weight 0, or a cut), count what
 * happened, and hand each kept example to `shape.emit`. Returns the counts, each kept
 * example's weight (`sample_mask`) and the index of the row it came from (`row_index`).
 */
export function tokenizeEach<T>(
  rows: readonly Row[],
  limit: { max_length: number | null; truncation: Truncation },
  guard: RowGuard,
  shape: ExampleShape<T>,
): { stats: TokenizeStats; sample_mask: Float32Array; row_index: Int32Array } {
  const stats = emptyStats();
  const sampleMask: number[] = [];
  const rowIndex: number[] = [];
  rows.forEach((row, i) => {
    stats.rows += 1;
    const tokenized = guard(i, () => shape.tokenize(row, i));
    if (tokenized === undefined) {
      stats.invalid += 1;
      return;
    }
    let example: T = tokenized;
    const length = shape.length(example);
    stats.longest = Math.max(stats.longest, length);
    let weight = 1;
    const max = limit.max_length;
    if (max !== null && length > max) {
      const cut =
        limit.truncation === 'truncate_left' || limit.truncation === 'truncate_right'
          ? shape.cut(example, max, limit.truncation === 'truncate_right')
          : null;
      if (limit.truncation === 'keep') {
        weight = 0;
        stats.masked += 1;
      } else if (cut !== null) {
        example = cut;
        stats.truncated += 1;
      } else {
        stats.dropped += 1;
        return;
      }
    }
    stats.tokens += shape.emit(example, weight, stats);
    sampleMask.push(weight);
    rowIndex.push(i);
    stats.emitted += 1;
  });
  return {
    stats,
    sample_mask: Float32Array.from(sampleMask),
    row_index: Int32Array.from(rowIndex),
  };
}
