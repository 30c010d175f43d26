import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Rng } from '@rxrl/core/base';
import './builtinStrategies';
import {
  formGroups,
  getGroupingStrategy,
  listGroupingStrategies,
  registerGroupingStrategy,
  unregisterGroupingStrategy,
} from './strategyRegistry';

const ctx = { step: 0, totalSteps: 1, rng: new Rng(0) };
const input = { promptIds: Int32Array.of(0, 0, 1, 1, 2), rewards: new Float32Array(5) };

afterEach(() => {
  unregisterGroupingStrategy('by_length');
  unregisterGroupingStrategy('broken');
});

describe('grouping strategy registry', () => {
  it('lists the built-ins', () => {
    expect(listGroupingStrategies()).toEqual(
      expect.arrayContaining([
        'adaptive',
        'by_prompt',
        'multi_criteria',
        'performance',
        'random',
        'semantic',
      ]),
    );
  });

  it('runs a custom strategy with its parsed options and fits it to the bounds', () => {
    registerGroupingStrategy(
      'by_length',
      (s, o) => Int32Array.from(s.completionLengths!, (len) => Math.floor(len / o.bucket)),
      z.strictObject({ bucket: z.int().min(1).default(10) }),
    );
    const lengths = { ...input, completionLengths: Int32Array.of(3, 25, 7, 21, 40) };
    // buckets of 10: 0, 2, 0, 2, 4 -> first appearance 0, 1, 0, 1, 2
    expect(Array.from(formGroups(lengths, { strategy: 'by_length' }, ctx))).toEqual([
      0, 1, 0, 1, 2,
    ]);
    // with min 2 the singleton joins the emptiest group with room (ties: first)
    expect(
      Array.from(formGroups(lengths, { strategy: 'by_length', min_group_size: 2 }, ctx)),
    ).toEqual([0, 1, 0, 1, 0]);
    // buckets of 30: 0, 0, 0, 0, 1
    const opts = { strategy: 'by_length', options: { bucket: 30 } };
    expect(Array.from(formGroups(lengths, opts, ctx))).toEqual([0, 0, 0, 0, 1]);
    expect(() =>
      formGroups(lengths, { strategy: 'by_length', options: { bucket: 0 } }, ctx),
    ).toThrow(/grouping strategy 'by_length': options\.bucket/);
  });

  it('suggests the closest name for an unknown strategy', () => {
    expect(() => getGroupingStrategy('by_promt')).toThrow(
      /unknown grouping strategy 'by_promt'\. Did you mean 'by_prompt'\?/,
    );
    expect(() => getGroupingStrategy('zzzzzzzzzzzz')).toThrow(
      /^unknown grouping strategy 'zzzzzzzzzzzz'\. Registered: /,
    );
  });

  it('rejects duplicate names, bad names and malformed results', () => {
    expect(() => registerGroupingStrategy('random', () => new Int32Array(0))).toThrow(
      /already registered/,
    );
    expect(() => registerGroupingStrategy('my-strategy', () => new Int32Array(0))).toThrow(
      /letters, digits and _/,
    );
    registerGroupingStrategy('broken', () => Int32Array.of(0, 1));
    expect(() => formGroups(input, { strategy: 'broken' }, ctx)).toThrow(
      /'broken' must return an Int32Array of 5 group ids, got Int32Array of length 2/,
    );
  });

  it('with embeddings, a sample moved to meet min_group_size joins the most similar group', () => {
    const e = (...x: number[]) => Float32Array.from(x);
    const samples = { ...input, embeddings: [e(1, 0), e(1, 0.1), e(0, 1), e(0.1, 1), e(0.05, 1)] };
    expect(
      Array.from(formGroups(input, { strategy: 'by_prompt', min_group_size: 2 }, ctx)),
    ).toEqual([0, 0, 1, 1, 0]);
    expect(
      Array.from(formGroups(samples, { strategy: 'by_prompt', min_group_size: 2 }, ctx)),
    ).toEqual([0, 0, 1, 1, 1]);
  });

  it('checks the bounds it is given', () => {
    expect(() =>
      formGroups(input, { strategy: 'by_prompt', min_group_size: 3, max_group_size: 2 }, ctx),
    ).toThrow(/max_group_size \(2\) must be >= min_group_size \(3\)/);
  });
});
