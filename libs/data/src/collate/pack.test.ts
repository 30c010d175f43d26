import { describe, expect, it } from 'vitest';
import { Rng } from '@rxrl/core/base';
import { bestFitDecreasing, packSequences, packValues, packedAttends } from './pack';

describe('bestFitDecreasing', () => {
  it('places each sequence, longest first, into the tightest bin that fits', () => {
    // lengths 6,5,4,3,2,2 into 8: 6->A(2 left) 5->B(3) 4->C(4) 3->B(0) 2->A(0) 2->C(2)
    expect(bestFitDecreasing([2, 5, 3, 6, 4, 2], 8)).toEqual([
      [3, 0],
      [1, 2],
      [4, 5],
    ]);
    expect(bestFitDecreasing([8, 8], 8)).toEqual([[0], [1]]);
    expect(() => bestFitDecreasing([9], 8)).toThrow(
      /sequence 0 has 9 tokens, more than max_seq_len 8/,
    );
  });

  it('never overfills a bin and uses no more bins than first-fit over random inputs', () => {
    const rng = new Rng(3);
    for (let trial = 0; trial < 50; trial++) {
      const lengths = Array.from({ length: 1 + rng.int(30) }, () => 1 + rng.int(16));
      const bins = bestFitDecreasing(lengths, 16);
      for (const bin of bins)
        expect(bin.reduce((s, i) => s + lengths[i]!, 0)).toBeLessThanOrEqual(16);
      expect(bins.flat().sort((a, b) => a - b)).toEqual(lengths.map((_, i) => i));
      const total = lengths.reduce((a, b) => a + b, 0);
      expect(bins.length).toBeGreaterThanOrEqual(Math.ceil(total / 16));
      // first-fit (unsorted) as a baseline BFD must match or beat
      const ff: number[] = [];
      for (const l of lengths) {
        const j = ff.findIndex((used) => used + l <= 16);
        if (j === -1) ff.push(l);
        else ff[j]! += l;
      }
      expect(bins.length).toBeLessThanOrEqual(ff.length);
    }
  });
});

describe('packSequences', () => {
  const seqs = [
    [11, 12],
    [21, 22, 23, 24, 25],
    [31, 32, 33],
    [41, 42, 43, 44, 45, 46],
    [51, 52, 53, 54],
    [61, 62],
  ];

  it('lays sequences out with segment ids and positions that restart at each boundary', () => {
    const p = packSequences(seqs, { max_seq_len: 8, pad_token_id: 0 });
    expect(p.bins).toEqual([
      [3, 0],
      [1, 2],
      [4, 5],
    ]);
    expect([p.batch, p.seqLen]).toEqual([3, 8]);
    expect(Array.from(p.ids)).toEqual([
      41, 42, 43, 44, 45, 46, 11, 12, 21, 22, 23, 24, 25, 31, 32, 33, 51, 52, 53, 54, 61, 62, 0, 0,
    ]);
    expect(Array.from(p.segmentIds)).toEqual([
      1, 1, 1, 1, 1, 1, 2, 2, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 2, 2, 0, 0,
    ]);
    expect(Array.from(p.positions)).toEqual([
      0, 1, 2, 3, 4, 5, 0, 1, 0, 1, 2, 3, 4, 0, 1, 2, 0, 1, 2, 3, 0, 1, 0, 0,
    ]);
    expect(Array.from(p.mask)).toEqual([
      1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0,
    ]);
    expect(Array.from(p.starts)).toEqual([6, 8, 13, 0, 16, 20]);
  });

  it('puts every token exactly once and never lets attention cross a boundary', () => {
    const rng = new Rng(17);
    const lens = Array.from({ length: 40 }, () => 1 + rng.int(12));
    let next = 1;
    const random = lens.map((l) => Array.from({ length: l }, () => next++)); // unique token ids
    const p = packSequences(random, { max_seq_len: 12 });
    const seen = Array.from(p.ids)
      .filter((t) => t !== 0)
      .sort((a, b) => a - b);
    expect(seen).toEqual(Array.from({ length: next - 1 }, (_, i) => i + 1));
    random.forEach((seq, i) => {
      const at = p.starts[i]!;
      expect(Array.from(p.ids.subarray(at, at + seq.length))).toEqual(seq);
      expect(Array.from(p.positions.subarray(at, at + seq.length))).toEqual(seq.map((_, t) => t));
    });
    for (let row = 0; row < p.batch; row++) {
      for (let q = 0; q < p.seqLen; q++) {
        for (let k = 0; k < p.seqLen; k++) {
          const a = p.ids[row * p.seqLen + q]!;
          const b = p.ids[row * p.seqLen + k]!;
          const sameSeq =
            a !== 0 &&
            b !== 0 &&
            random.findIndex((s) => s.includes(a)) === random.findIndex((s) => s.includes(b));
          const causal =
            sameSeq &&
            random.find((s) => s.includes(a))!.indexOf(b) <=
              random.find((s) => s.includes(a))!.indexOf(a);
          expect(packedAttends(p, row, q, k)).toBe(causal);
        }
      }
    }
  });

  it('lays loss masks out in the packed positions', () => {
    const p = packSequences([[1, 2, 3], [4]], { max_seq_len: 5 });
    const lossMask = { values: Uint8Array.of(0, 1, 1, 1), offsets: Int32Array.of(0, 3, 4) };
    expect(Array.from(packValues(lossMask, p))).toEqual([0, 1, 1, 1, 0]);
  });
});
