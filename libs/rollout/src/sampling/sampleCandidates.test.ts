import { describe, expect, it } from 'vitest';
import { Rng } from '@rxrl/core/base';
import { sampleCandidates } from './sampleCandidates';
import { sampleToken } from './sampleToken';
import type { SamplingParams } from './samplingParams';

/** Host top-k of a row as the device would return it: descending values of logits / T, their ids, logSumExp. */
function candidates(logits: Float32Array, k: number, t: number) {
  const scaled = Array.from(logits, (l) => l / t);
  const ids = scaled
    .map((_, i) => i)
    .sort((a, b) => scaled[b]! - scaled[a]! || a - b)
    .slice(0, k);
  const m = Math.max(...scaled);
  const lse = m + Math.log(scaled.reduce((s, x) => s + Math.exp(x - m), 0));
  return { values: Float32Array.from(ids, (i) => scaled[i]!), indices: Int32Array.from(ids), lse };
}

describe('sampleCandidates', () => {
  it('draws the same token and log-prob as sampleToken on the full row', () => {
    const rng = new Rng(4);
    const logits = new Float32Array(300);
    rng.fillNormal(logits, 0, 2);
    const cases: SamplingParams[] = [
      { temperature: 0, top_k: 1, top_p: 1, min_p: 0 },
      { temperature: 1, top_k: 10, top_p: 1, min_p: 0 },
      { temperature: 0.7, top_k: 25, top_p: 0.8, min_p: 0.02 },
      { temperature: 2, top_k: 300, top_p: 0.95, min_p: 0 },
    ];
    for (const p of cases) {
      const c = candidates(logits, p.top_k!, p.temperature || 1);
      const a = new Rng(1);
      const b = new Rng(1);
      const seen = new Set<number>();
      for (let i = 0; i < 200; i++) {
        const host = sampleToken(logits, p, a);
        const dev = sampleCandidates(c.values, c.indices, c.lse, p, b);
        expect(dev.token).toBe(host.token);
        expect(dev.logprob).toBeCloseTo(host.logprob, 5);
        seen.add(dev.token);
      }
      if (p.temperature > 0) expect(seen.size).toBeGreaterThan(1);
    }
  });
});
