/**
 * Metrics rows without wall-clock keys (`timing/…`, `performance/…`), which differ
 * between otherwise identical runs: what resume tests compare.
 */
export function withoutTimings(rows: Record<string, number>[]): Record<string, number>[] {
  return rows.map((r) =>
    Object.fromEntries(
      Object.entries(r).filter(([k]) => !k.startsWith('timing/') && !k.startsWith('performance/')),
    ),
  );
}
