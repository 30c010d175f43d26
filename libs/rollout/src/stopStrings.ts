/** A stop string found in decoded text. */
export interface StopMatch {
  /** Offset of the stop string's first character. */
  index: number;
  /** Length of the stop string that matched. */
  length: number;
}

/**
 * The earliest occurrence of any of `stops` in `text` that starts at or after
 * `from` (the caller passes where new text could first complete a match, so a
 * growing completion is scanned once, not once per token). On equal starts the
 * longer stop string wins.
 */
export function findStopString(text: string, stops: readonly string[], from = 0): StopMatch | null {
  let best: StopMatch | null = null;
  for (const s of stops) {
    const i = text.indexOf(s, Math.max(0, from));
    if (i < 0) continue;
    if (best === null || i < best.index || (i === best.index && s.length > best.length)) {
      best = { index: i, length: s.length };
    }
  }
  return best;
}

/** Length of the longest stop string (0 for none). */
export function longestStop(stops: readonly string[]): number {
  let n = 0;
  for (const s of stops) n = Math.max(n, s.length);
  return n;
}
