import { describe, expect, it } from 'vitest';
import { Rng } from '@rxrl/core/base';
import { argmax, policyLogprob, sampleToken } from './sampleToken';
import type { SamplingParams } from './samplingParams';

const LOGITS = Float32Array.of(0.3, 1.2, -0.5, 0.9, 0.0, -1.4);

function softmax(logits: ArrayLike<number>, t: number): number[] {
  const z = Array.from(logits, (l) => l / t);
  const m = Math.max(...z);
  const e = z.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/** Pearson chi-square of observed counts against expected probabilities. */
function chiSquare(counts: number[], probs: number[], n: number): number {
  return counts.reduce((s, c, i) => s + (c - n * probs[i]!) ** 2 / (n * probs[i]!), 0);
}

const base: SamplingParams = { temperature: 1, top_k: null, top_p: 1, min_p: 0 };

describe('sampleToken', () => {
  it('temperature 0 is argmax (lowest id on ties) with the unscaled log-prob', () => {
    const rng = new Rng(0);
    const r = sampleToken(LOGITS, { ...base, temperature: 0 }, rng);
    expect(r.token).toBe(1);
    expect(r.logprob).toBeCloseTo(Math.log(softmax(LOGITS, 1)[1]!), 10);
    expect(argmax(Float32Array.of(2, 5, 5, 1))).toBe(1);
  });

  it('top_k = 1 is greedy at any temperature', () => {
    const rng = new Rng(1);
    for (const temperature of [0.3, 1, 5]) {
      for (let i = 0; i < 50; i++)
        expect(sampleToken(LOGITS, { ...base, temperature, top_k: 1 }, rng).token).toBe(1);
    }
  });

  it('draws with softmax(logits / T) frequencies (chi-square, 5 dof)', () => {
    const n = 20000;
    for (const temperature of [0.7, 1.5]) {
      const rng = new Rng(11);
      const counts = new Array(LOGITS.length).fill(0);
      for (let i = 0; i < n; i++)
        counts[sampleToken(LOGITS, { ...base, temperature }, rng).token]++;
      // 20.5 is the 0.999 quantile of chi-square with 5 degrees of freedom
      expect(chiSquare(counts, softmax(LOGITS, temperature), n)).toBeLessThan(20.5);
      // and a wrong temperature is rejected by the same bound
      expect(chiSquare(counts, softmax(LOGITS, temperature * 1.5), n)).toBeGreaterThan(20.5);
    }
  });

  it('top_k draws only kept tokens, renormalised (chi-square, 2 dof)', () => {
    const n = 20000;
    const rng = new Rng(5);
    const counts = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const t = sampleToken(LOGITS, { ...base, top_k: 3 }, rng).token;
      counts.set(t, (counts.get(t) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual([0, 1, 3]);
    const p = softmax(Float32Array.of(LOGITS[0]!, LOGITS[1]!, LOGITS[3]!), 1);
    // 13.8 is the 0.999 quantile of chi-square with 2 degrees of freedom
    expect(chiSquare([counts.get(0)!, counts.get(1)!, counts.get(3)!], p, n)).toBeLessThan(13.8);
  });

  it('reports the policy log-prob at the temperature, not the truncated distribution', () => {
    const rng = new Rng(2);
    for (let i = 0; i < 20; i++) {
      const r = sampleToken(LOGITS, { temperature: 0.8, top_k: 2, top_p: 0.9, min_p: 0.1 }, rng);
      expect(r.logprob).toBeCloseTo(Math.log(softmax(LOGITS, 0.8)[r.token]!), 10);
      expect(r.logprob).toBeCloseTo(policyLogprob(LOGITS, r.token, 0.8), 12);
    }
  });

  it('is a pure function of the rng state', () => {
    const a = new Rng(9);
    const b = new Rng(9);
    const p = { ...base, top_p: 0.9 };
    for (let i = 0; i < 100; i++)
      expect(sampleToken(LOGITS, p, a).token).toBe(sampleToken(LOGITS, p, b).token);
  });
});
