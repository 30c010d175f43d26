import { describe, expect, it } from 'vitest';
import { RxrlConfigError } from '@rxrl/core/base';
import { applyOverrides, coerceOverrideValue, parseOverride } from './overrides';
import { parseRecipe } from './loadRecipe';
import { formatSource, pathKey, sourceAt } from './source';

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RxrlConfigError);
    return (err as Error).message;
  }
  throw new Error('expected an RxrlConfigError');
}

describe('coerceOverrideValue', () => {
  it.each([
    ['3', 3],
    ['-2', -2],
    ['+5', 5],
    ['0.25', 0.25],
    ['.5', 0.5],
    ['-0.5', -0.5],
    ['1e-6', 1e-6],
    ['-3.5E+2', -350],
    ['true', true],
    ['False', false],
    ['null', null],
    ['~', null],
    ['', ''],
    ['hello', 'hello'],
    ['hello world', 'hello world'],
    ['a#b', 'a#b'],
    ['text # not a comment', 'text # not a comment'],
    ['1.2.3', '1.2.3'],
    ['0x10', '0x10'],
    ['NaN', 'NaN'],
    ['"42"', '42'],
    ["'true'", 'true'],
    ['"a\\tb"', 'a\tb'],
    ['[1,2,3]', [1, 2, 3]],
    ['[a, b]', ['a', 'b']],
    ['[]', []],
    ['[1e-6, -2, true, null, "3"]', [1e-6, -2, true, null, '3']],
    ['[[1, 2], [3]]', [[1, 2], [3]]],
    ['{lr: 0.1, name: x}', { lr: 0.1, name: 'x' }],
    ['Qwen/Qwen3-0.6B', 'Qwen/Qwen3-0.6B'],
  ])('%j -> %j', (text, expected) => {
    expect(coerceOverrideValue(text)).toEqual(expected);
  });

  it('rejects malformed list syntax, naming the override', () => {
    expect(errorOf(() => parseOverride('grpo.stop_strings=[a, b'))).toMatch(
      /^command line grpo\.stop_strings=\[a, b: cannot parse the value \[a, b: /,
    );
  });
});

describe('parseOverride', () => {
  it('splits at the first =', () => {
    expect(parseOverride('data.filter=a=b')).toEqual({
      text: 'data.filter=a=b',
      keyPath: ['data', 'filter'],
      value: 'a=b',
    });
  });
  it('key= sets the empty string', () => {
    expect(parseOverride('policy.chat_template=').value).toBe('');
  });
  it('rejects an argument without =', () => {
    expect(errorOf(() => parseOverride('grpo.lr'))).toBe(
      'command line grpo.lr: an override must look like key.path=value',
    );
  });
  it('rejects empty key segments', () => {
    expect(errorOf(() => parseOverride('grpo..lr=1'))).toBe(
      "command line grpo..lr=1: 'grpo..lr' is not a key path (expected names joined by '.')",
    );
    expect(errorOf(() => parseOverride('=1'))).toBe(
      "command line =1: '' is not a key path (expected names joined by '.')",
    );
  });
});

describe('applyOverrides', () => {
  const base = parseRecipe('seed: 1\npolicy:\n  lr: 0.1\n  stop: [a, b]\nlogger: null\n', 'r.yaml');

  it('sets existing keys, creates new nested keys, and records command line as the source', () => {
    const out = applyOverrides(base, [
      'policy.lr=1e-6',
      'grpo.kl.beta=0.04',
      'logger.log_dir=runs/x',
      'seed=-3',
    ]);
    expect(out.value).toEqual({
      seed: -3,
      policy: { lr: 1e-6, stop: ['a', 'b'] },
      logger: { log_dir: 'runs/x' },
      grpo: { kl: { beta: 0.04 } },
    });
    const at = (...keyPath: string[]) => formatSource(sourceAt(out.sources, keyPath));
    expect(at('policy', 'lr')).toBe('command line');
    expect(at('policy')).toBe('r.yaml:2');
    expect(at('policy', 'stop')).toBe('r.yaml:4');
    expect(at('grpo', 'kl', 'beta')).toBe('command line');
    expect(at('grpo')).toBe('command line');
    expect(out.sources.get(pathKey(['grpo', 'kl', 'beta']))).toEqual({
      kind: 'command line',
      override: 'grpo.kl.beta=0.04',
    });
    // the input is untouched
    expect(base.value).toEqual({ seed: 1, policy: { lr: 0.1, stop: ['a', 'b'] }, logger: null });
  });

  it('replacing a list drops the sources of its old items', () => {
    const out = applyOverrides(base, ['policy.stop=[x]']);
    expect(out.value['policy']).toEqual({ lr: 0.1, stop: ['x'] });
    expect(formatSource(sourceAt(out.sources, ['policy', 'stop', 0]))).toBe('command line');
    expect(formatSource(sourceAt(out.sources, ['policy', 'stop', 1]))).toBe('command line');
  });

  it('indexes into lists with numeric segments', () => {
    const out = applyOverrides(base, ['policy.stop.1=c', 'policy.stop.2=d']);
    expect((out.value['policy'] as Record<string, unknown>)['stop']).toEqual(['a', 'c', 'd']);
    expect(errorOf(() => applyOverrides(base, ['policy.stop.5=z']))).toBe(
      "command line policy.stop.5=z: policy.stop is a list of 2 items; '5' is not an index from 0 to 2",
    );
  });

  it('later overrides win', () => {
    expect(applyOverrides(base, ['seed=2', 'seed=3']).value['seed']).toBe(3);
  });

  it('refuses to descend into a scalar', () => {
    expect(errorOf(() => applyOverrides(base, ['seed.value=2']))).toBe(
      'command line seed.value=2: seed is 1, not a section with keys',
    );
  });

  it('a __proto__ key is stored as data, never as a prototype', () => {
    const out = applyOverrides(base, ['policy.__proto__.polluted=1']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.getPrototypeOf(out.value['policy'])).toBe(Object.prototype);
    expect(Object.keys(out.value['policy'] as object)).toContain('__proto__');
  });
});
