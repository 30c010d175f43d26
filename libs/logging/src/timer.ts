/**
 * Wall-clock timing of named phases within a step, reported as
 * `timing/<name>` seconds — the breakdown users read to see where a step goes.
 *
 * @example
 * const t = new StepTimer();
 * const out = await t.time('generation', () => generate(batch));
 * t.metrics(); // { 'timing/generation': 1.23 }
 */
export class StepTimer {
  private totals = new Map<string, number>();

  async time<T>(name: string, fn: () => Promise<T> | T): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.add(name, (performance.now() - t0) / 1000);
    }
  }

  add(name: string, seconds: number): void {
    this.totals.set(name, (this.totals.get(name) ?? 0) + seconds);
  }

  /** Seconds per phase, then reset for the next step. */
  metrics(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of this.totals) out[`timing/${k}`] = v;
    this.totals.clear();
    return out;
  }
}
