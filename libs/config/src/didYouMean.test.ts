import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { closestMatch, editDistance } from './didYouMean';

describe('editDistance', () => {
  it.each([
    ['', '', 0],
    ['abc', '', 3],
    ['kitten', 'sitting', 3],
    ['num_generation_per_prompt', 'num_generations_per_prompt', 1],
    ['laerning_rate', 'learning_rate', 1], // one transposition
    ['ca', 'abc', 3], // optimal string alignment, not unrestricted Damerau (which gives 2)
  ])('%j vs %j = %i', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
    expect(editDistance(b, a)).toBe(d);
  });

  it('is a metric-like distance: zero iff equal, bounded by the longer length', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }), (a, b) => {
        const d = editDistance(a, b);
        expect(d === 0).toBe(a === b);
        expect(d).toBeLessThanOrEqual(Math.max(a.length, b.length));
        expect(d).toBeGreaterThanOrEqual(Math.abs(a.length - b.length));
      }),
    );
  });
});

describe('closestMatch', () => {
  const keys = [
    'num_generations_per_prompt',
    'max_num_steps',
    'normalize_rewards',
    'use_leave_one_out_baseline',
  ];
  it('suggests the nearest key within a third of its length', () => {
    expect(closestMatch('num_generation_per_prompt', keys)).toBe('num_generations_per_prompt');
    expect(closestMatch('normalise_rewards', keys)).toBe('normalize_rewards');
    expect(closestMatch('MAX_NUM_STEPS', keys)).toBe('max_num_steps');
  });
  it('says nothing when no key is close', () => {
    expect(closestMatch('temperature', keys)).toBeUndefined();
    expect(closestMatch('x', [])).toBeUndefined();
  });
  it('allows one edit even for short words', () => {
    expect(closestMatch('lr', ['lm', 'seed'])).toBe('lm');
    expect(closestMatch('ab', ['xy'])).toBeUndefined();
  });
});
