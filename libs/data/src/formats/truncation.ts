import { z } from 'zod';
import type { MetricEvent } from '@rxrl/core/base';

/**
 * What to do with an example longer than `max_length`: `drop` it, cut tokens from
 * the start (`truncate_left`) or the end (`truncate_right`), or `keep` it whole
 * with `sample_mask` 0 (excluded from the loss, kept in group statistics).
 */
export const Truncation = z.enum(['drop', 'truncate_left', 'truncate_right', 'keep']);
export type Truncation = z.infer<typeof Truncation>;

/** Counts every tokenisation outcome, so that nothing is dropped or shortened silently. */
export interface TokenizeStats {
  /** Rows seen. */
  rows: number;
  /** Examples emitted (rows minus dropped). */
  emitted: number;
  /** Rows rejected as invalid (bad fields, template problems) and skipped by a `RowGuard`. */
  invalid: number;
  /** Rows over `max_length` dropped under `truncation: drop` (or too long to truncate). */
  dropped: number;
  /** Rows shortened by `truncate_left` / `truncate_right`. */
  truncated: number;
  /** Over-length rows kept whole with `sample_mask` 0 under `truncation: keep`. */
  masked: number;
  /** Emitted examples whose loss mask has no 1 (e.g. the completion was truncated away). */
  no_loss_tokens: number;
  /** Tokens emitted, over all token columns. */
  tokens: number;
  /** Longest example before truncation, in tokens. */
  longest: number;
}

/** A fresh all-zero stats object. */
export function emptyStats(): TokenizeStats {
  return {
    rows: 0,
    emitted: 0,
    invalid: 0,
    dropped: 0,
    truncated: 0,
    masked: 0,
    no_loss_tokens: 0,
    tokens: 0,
    longest: 0,
  };
}

/** Add `b` into `a` (for stats gathered batch by batch). */
export function addStats(a: TokenizeStats, b: TokenizeStats): TokenizeStats {
  return {
    rows: a.rows + b.rows,
    emitted: a.emitted + b.emitted,
    invalid: a.invalid + b.invalid,
    dropped: a.dropped + b.dropped,
    truncated: a.truncated + b.truncated,
    masked: a.masked + b.masked,
    no_loss_tokens: a.no_loss_tokens + b.no_loss_tokens,
    tokens: a.tokens + b.tokens,
    longest: Math.max(a.longest, b.longest),
  };
}

/**
 * Runs one row's parsing and tokenisation. The default rethrows every error; a
 * stage can instead locate the error at its file and line and return `undefined`
 * to skip the row, which is then counted in `TokenizeStats.invalid`.
 */
export type RowGuard = <T>(index: number, work: () => T) => T | undefined;

/** The guard that lets every error through. */
export const throwingGuard: RowGuard = (_index, work) => work();

/**
 * Metrics `<prefix>/data/<count>` for the logging sinks (prefix per DESIGN.md:
 * `train` or `validation`): rows, emitted, invalid, dropped_too_long, truncated,
 * masked_too_long, no_loss_tokens, tokens and longest.
 */
export function tokenizeStatsMetrics(
  stats: TokenizeStats,
  step: number,
  prefix = 'train',
): MetricEvent[] {
  const base = `${prefix}/data`;
  const entries: [string, number][] = [
    ['rows', stats.rows],
    ['emitted', stats.emitted],
    ['invalid', stats.invalid],
    ['dropped_too_long', stats.dropped],
    ['truncated', stats.truncated],
    ['masked_too_long', stats.masked],
    ['no_loss_tokens', stats.no_loss_tokens],
    ['tokens', stats.tokens],
    ['longest', stats.longest],
  ];
  return entries.map(([name, value]) => ({ step, name: `${base}/${name}`, value }));
}
