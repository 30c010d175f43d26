import { describe, expect, it } from 'vitest';
import { listVectorFromRows, readList } from '@rxrl/core/base';
import { padSequences, padValues } from './pad';

describe('padSequences', () => {
  it('right-pads for training with mask and positions', () => {
    const p = padSequences([[5, 6, 7], [8], []], { pad_token_id: 9 });
    expect([p.batch, p.seqLen]).toEqual([3, 3]);
    expect(Array.from(p.ids)).toEqual([5, 6, 7, 8, 9, 9, 9, 9, 9]);
    expect(Array.from(p.mask)).toEqual([1, 1, 1, 1, 0, 0, 0, 0, 0]);
    expect(Array.from(p.positions)).toEqual([0, 1, 2, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(p.lengths)).toEqual([3, 1, 0]);
  });

  it('left-pads for generation so every prompt ends in the last column', () => {
    const p = padSequences([[5, 6, 7], [8]], {
      padding_side: 'left',
      pad_token_id: 0,
      pad_to_multiple_of: 4,
    });
    expect(p.seqLen).toBe(4);
    expect(Array.from(p.ids)).toEqual([0, 5, 6, 7, 0, 0, 0, 8]);
    expect(Array.from(p.mask)).toEqual([0, 1, 1, 1, 0, 0, 0, 1]);
    expect(Array.from(p.positions)).toEqual([0, 0, 1, 2, 0, 0, 0, 0]);
  });

  it('pads a list column read zero-copy, and lays per-token values out the same way', () => {
    const tokens = readList(
      listVectorFromRows([
        [1, 2],
        [3, 4, 5],
      ]),
    );
    const lossMask = readList(
      listVectorFromRows(
        [
          [0, 1],
          [0, 1, 1],
        ],
        'uint8',
      ),
    );
    const right = padSequences(tokens as any, { max_length: 4 });
    expect(Array.from(padValues(lossMask, right))).toEqual([0, 1, 0, 0, 0, 1, 1, 0]);
    const left = padSequences(tokens as any, { padding_side: 'left' });
    const lp = padValues(
      readList(
        listVectorFromRows(
          [
            [-1, -2],
            [-3, -4, -5],
          ],
          'float32',
        ),
      ),
      left,
      NaN,
    );
    expect(lp).toBeInstanceOf(Float32Array);
    expect(Array.from(lp)).toEqual([NaN, -1, -2, -3, -4, -5]);
    expect(() => padValues(readList(listVectorFromRows([[1], [1, 1, 1]], 'uint8')), right)).toThrow(
      /row 0 has 1 values but its sequence has 2 tokens/,
    );
  });

  it('refuses sequences longer than max_length and bad options', () => {
    expect(() => padSequences([[1, 2, 3]], { max_length: 2 })).toThrow(
      /sequence 0 has 3 tokens, more than max_length 2/,
    );
    expect(() => padSequences([[1]], { padding_side: 'middle' as 'left' })).toThrow(
      /padding option 'padding_side'/,
    );
  });
});
