import { describe, expect, it } from 'vitest';
import { Rng } from '@rxrl/core/base';
import { filterTokens } from './filterTokens';
import { kthLargest } from './kthLargest';
import type { SamplingParams } from './samplingParams';

// token:        0     1    2    3     4
const PROBS = [0.05, 0.4, 0.1, 0.25, 0.2];
const LOGITS = Float32Array.from(PROBS, (p) => Math.log(p) + 3); // a shift changes nothing

const base: SamplingParams = { temperature: 1, top_k: null, top_p: 1, min_p: 0 };
const kept = (p: Partial<SamplingParams>, logits = LOGITS) =>
  [...filterTokens(logits, { ...base, ...p }).ids].sort((a, b) => a - b);

describe('filterTokens on a hand-built distribution', () => {
  it('keeps everything with no filter, weights proportional to the probabilities', () => {
    const { ids, weights } = filterTokens(LOGITS, base);
    expect([...ids]).toEqual([0, 1, 2, 3, 4]);
    const sum = weights.reduce((a, b) => a + b, 0);
    weights.forEach((w, i) => expect(w / sum).toBeCloseTo(PROBS[ids[i]!]!, 6));
  });

  it('top_p keeps the smallest most-likely prefix reaching p', () => {
    expect(kept({ top_p: 0.3 })).toEqual([1]); // 0.4 >= 0.3
    expect(kept({ top_p: 0.6 })).toEqual([1, 3]); // 0.4 < 0.6 <= 0.65
    expect(kept({ top_p: 0.7 })).toEqual([1, 3, 4]); // 0.65 < 0.7 <= 0.85
    expect(kept({ top_p: 0.9 })).toEqual([1, 2, 3, 4]); // 0.85 < 0.9 <= 0.95
    expect(kept({ top_p: 0.99 })).toEqual([0, 1, 2, 3, 4]);
  });

  it('top_k keeps the k most likely, lower ids first on ties', () => {
    expect(kept({ top_k: 1 })).toEqual([1]);
    expect(kept({ top_k: 2 })).toEqual([1, 3]);
    expect(kept({ top_k: 3 })).toEqual([1, 3, 4]);
    expect(kept({ top_k: 9 })).toEqual([0, 1, 2, 3, 4]);
    expect(kept({ top_k: 2 }, Float32Array.of(-1, 0, 0, 0))).toEqual([1, 2]);
  });

  it('min_p drops tokens under min_p times the top probability', () => {
    expect(kept({ min_p: 0.55 })).toEqual([1, 3]); // cut 0.22
    expect(kept({ min_p: 0.3 })).toEqual([1, 3, 4]); // cut 0.12
    expect(kept({ min_p: 0.2 })).toEqual([1, 2, 3, 4]); // cut 0.08
  });

  it('applies min-p, then top-k, then top-p over what top-k kept', () => {
    // without top_k the nucleus at 0.45 is {1, 3}; after top_k=3 the mass is
    // 0.85 and 0.4/0.85 = 0.47 already reaches 0.45
    expect(kept({ top_p: 0.45 })).toEqual([1, 3]);
    expect(kept({ top_p: 0.45, top_k: 3 })).toEqual([1]);
    expect(kept({ min_p: 0.3, top_k: 2 })).toEqual([1, 3]);
    expect(kept({ min_p: 0.55, top_k: 3, top_p: 1 })).toEqual([1, 3]);
  });

  it('applies temperature before the filters', () => {
    // T = 0.5 squares the probabilities: 0.4² / 0.275 = 0.582 of the mass
    expect(kept({ top_p: 0.5 })).toEqual([1, 3]);
    expect(kept({ top_p: 0.5, temperature: 0.5 })).toEqual([1]);
    expect(kept({ top_p: 0.6, temperature: 0.5 })).toEqual([1, 3]);
    // T = 2 flattens: sqrt(p) normalised, 0.2 and 0.1 weigh more
    expect(kept({ top_p: 0.6, temperature: 2 })).toEqual([1, 3, 4]);
  });
});

/** Reference: full sort of everything, then the same rules written plainly. */
function referenceKept(logits: Float32Array, p: SamplingParams): number[] {
  const max = Math.max(...logits);
  const w = Array.from(logits, (l) => Math.exp((l - max) / p.temperature));
  let ids = w.map((_, i) => i).filter((i) => w[i]! >= p.min_p);
  ids.sort((a, b) => w[b]! - w[a]! || a - b);
  if (p.top_k !== null) ids = ids.slice(0, p.top_k);
  if (p.top_p < 1) {
    const total = ids.reduce((s, i) => s + w[i]!, 0);
    const out: number[] = [];
    let before = 0;
    for (const i of ids) {
      if (before >= p.top_p * total) break;
      out.push(i);
      before += w[i]!;
    }
    ids = out;
  }
  return ids.sort((a, b) => a - b);
}

describe('filterTokens on a large vocabulary (partial sorts)', () => {
  it('matches a full-sort reference for random rows and every filter mix', () => {
    const rng = new Rng(7);
    const v = 5000;
    const cases: Partial<SamplingParams>[] = [
      { top_k: 1 },
      { top_k: 50 },
      { top_p: 0.9 },
      { top_p: 0.5, temperature: 0.7 },
      { min_p: 0.05 },
      { top_k: 40, top_p: 0.8, min_p: 0.01 },
      { top_k: 4999, top_p: 0.95, temperature: 1.3 },
    ];
    for (let trial = 0; trial < 4; trial++) {
      const logits = new Float32Array(v);
      if (trial === 0) {
        // flat: the tail holds most of the mass, so top-p's pre-prune must not lose it
        for (let i = 0; i < v; i++) logits[i] = rng.normal() * 0.5;
      } else {
        // a few peaked tokens over a flat tail, plus rounded duplicates to exercise ties
        for (let i = 0; i < v; i++)
          logits[i] = Math.round(rng.normal() * 4 * (i % 97 === 0 ? 3 : 1)) / 2;
      }
      for (const c of cases) {
        const p = { ...base, ...c };
        expect(kept(p, logits)).toEqual(referenceKept(logits, p));
      }
    }
  });

  it('kthLargest agrees with sorting, duplicates included', () => {
    const rng = new Rng(3);
    for (const n of [1, 2, 7, 100, 1001]) {
      const vals = Float64Array.from({ length: n }, () => rng.int(20));
      const sorted = [...vals].sort((a, b) => b - a);
      for (const k of [1, Math.ceil(n / 2), n])
        expect(kthLargest(vals.slice(), k)).toBe(sorted[k - 1]);
    }
  });
});
