import { describe, expect, it } from 'vitest';
import { formatReward } from './formatReward';
import { lengthPenalty } from './lengthPenalty';
import { exactMatchReward, regexMatchReward } from './matchReward';
import { compositeReward } from './compositeReward';
import { jsFunctionReward, jsModuleReward } from './jsFunctionReward';
import { mathReward } from './mathReward';
import type { RewardSample } from './sample';

const s = (completion: string, extra: Partial<RewardSample> = {}): RewardSample => ({
  prompt: 'p',
  completion,
  ...extra,
});

describe('formatReward', () => {
  const partial = formatReward({ mode: 'partial' });
  const strict = formatReward();
  const cases: [string, number, number][] = [
    // completion, strict, partial
    ['<think>a</think><answer>b</answer>', 1, 1],
    ['  <think>\na\n</think>\n<answer> b </answer>\n', 1, 1],
    ['<think>a</think> so <answer>b</answer>', 0, 0.5], // text between blocks
    ['<think>a</think><answer>b</answer> trailing', 0, 0.5],
    ['<answer>b</answer><think>a</think>', 0, 0.5], // wrong order
    ['<think>a</think>', 0, 0.25],
    ['<think>a', 0, 0.125],
    ['<think>a<think>b</think><answer>c</answer>', 0, 0.375], // `<think>` twice earns nothing
    ['plain text', 0, 0],
  ];
  it.each(cases)('%j → strict %d, partial %d', (text, st, pa) => {
    expect(strict(s(text))).toBe(st);
    expect(partial(s(text))).toBeCloseTo(pa, 12);
  });
  it('uses configured tags and max_reward', () => {
    const f = formatReward({ tags: ['reasoning', 'solution'], mode: 'partial', max_reward: 2 });
    expect(f(s('<reasoning>x</reasoning><solution>y</solution>'))).toBe(2);
    expect(f(s('<think>x</think><answer>y</answer>'))).toBe(0);
    expect(f(s('<reasoning>x</reasoning>'))).toBeCloseTo(0.5, 12); // 2 · 0.5 · 2/4
  });
});

describe('lengthPenalty', () => {
  const linear = lengthPenalty({ target_length: 100, max_length: 200 });
  const cosine = lengthPenalty({
    target_length: 100,
    max_length: 200,
    shape: 'cosine',
    max_penalty: 2,
  });
  const at = (fn: typeof linear, n: number) => fn(s('x', { completionTokens: n })) as number;
  it('linear ramp (DAPO soft overlong punishment)', () => {
    expect([0, 50, 100, 150, 175, 200, 250].map((n) => at(linear, n))).toEqual([
      0, 0, 0, -0.5, -0.75, -1, -1,
    ]);
  });
  it('cosine ramp: −2·(1 − cos(π·x))/2', () => {
    expect(at(cosine, 100)).toBe(0);
    expect(at(cosine, 125)).toBeCloseTo(-(1 - Math.SQRT1_2), 12); // x = 1/4
    expect(at(cosine, 150)).toBeCloseTo(-1, 12);
    expect(at(cosine, 175)).toBeCloseTo(-(1 + Math.SQRT1_2), 12);
    expect(at(cosine, 200)).toBe(-2);
  });
  it('counts tokens when present, else characters', () => {
    expect(linear(s('y'.repeat(150)))).toBe(-0.5); // no token count: 150 chars
    expect(linear(s('y'.repeat(150), { completionTokens: 10 }))).toBe(0);
    expect(
      lengthPenalty({ target_length: 100, max_length: 200, unit: 'chars' })(
        s('y'.repeat(150), { completionTokens: 10 }),
      ),
    ).toBe(-0.5);
    expect(lengthPenalty({ target_length: 1, max_length: 2, unit: 'tokens' })(s('abc'))).toBeNull();
  });
  it('penalises truncated completions fully when asked', () => {
    const f = lengthPenalty({
      target_length: 100,
      max_length: 200,
      penalize_truncated: true,
      max_penalty: 0.5,
    });
    expect(f(s('short', { finishReason: 'length', completionTokens: 3 }))).toBe(-0.5);
    expect(f(s('short', { finishReason: 'stop', completionTokens: 3 }))).toBe(0);
  });
  it('rejects max_length ≤ target_length by name', () => {
    expect(() => lengthPenalty({ target_length: 10, max_length: 10 })).toThrow(
      /max_length \(10\) must be greater than target_length/,
    );
  });
});

describe('exact and regex match', () => {
  it('normalises as configured', () => {
    expect(exactMatchReward()(s('  Paris \n', { answer: 'Paris' }))).toBe(1);
    expect(exactMatchReward()(s('paris', { answer: 'Paris' }))).toBe(0);
    expect(exactMatchReward({ ignore_case: true })(s('paris', { answer: 'Paris' }))).toBe(1);
    expect(exactMatchReward({ trim: false })(s(' Paris', { answer: 'Paris' }))).toBe(0);
    expect(
      exactMatchReward({ collapse_whitespace: true })(s('New   York', { answer: 'New York' })),
    ).toBe(1);
    expect(exactMatchReward()(s('x'))).toBeNull();
  });
  it('matches patterns and capture groups', () => {
    expect(regexMatchReward({ pattern: '^\\d+$' })(s(' 42 '))).toBe(1);
    expect(regexMatchReward({ pattern: '^\\d+$' })(s('42 apples'))).toBe(0);
    expect(regexMatchReward({ pattern: 'yes', ignore_case: true })(s('YES'))).toBe(1);
    const grp = regexMatchReward({ pattern: 'Answer: (?<a>\\w+)', answer_group: 'a' });
    expect(grp(s('Answer: blue', { answer: 'blue' }))).toBe(1);
    expect(grp(s('Answer: red', { answer: 'blue' }))).toBe(0);
    expect(regexMatchReward({ pattern: 'a(b)', answer_group: 1 })(s('xab', { answer: 'b' }))).toBe(
      1,
    );
    expect(regexMatchReward({ pattern: 'ab', full_match: true })(s('xab'))).toBe(0);
    expect(() => regexMatchReward({ pattern: '(' })).toThrow(/pattern "\(" is not a valid RegExp/);
  });
});

describe('compositeReward', () => {
  it('sums weighted components and applies the null policy', async () => {
    const comp = compositeReward([
      { name: 'math', fn: mathReward() },
      { name: 'format', fn: formatReward({ mode: 'partial' }), weight: 0.5 },
      { name: 'len', fn: lengthPenalty({ target_length: 10, max_length: 20 }), weight: 2 },
    ]);
    // math 1, format 0.25 (think tags only), length: 15 tokens → −0.5
    expect(
      await comp(s('<think>x</think> \\boxed{4}', { answer: '4', completionTokens: 15 })),
    ).toBeCloseTo(1 + 0.5 * 0.25 + 2 * -0.5, 12);
    expect(await comp(s('\\boxed{4}'))).toBeNull(); // no answer: math is null → total null
    const zero = compositeReward(comp.components, { null_policy: 'zero' });
    expect(await zero(s('\\boxed{4}', { completionTokens: 1 }))).toBe(0);
  });
  it('rejects duplicate or unusable names', () => {
    const fn = () => 1;
    expect(() =>
      compositeReward([
        { name: 'a', fn },
        { name: 'a', fn },
      ]),
    ).toThrow(/duplicate component name 'a'/);
    expect(() => compositeReward([{ name: 'a b', fn }])).toThrow(/must match/);
  });
});

describe('user JavaScript functions', () => {
  it('accepts sync, async and null; rejects undefined and NaN', async () => {
    expect(await jsFunctionReward((x) => x.completion.length)(s('abc'))).toBe(3);
    expect(await jsFunctionReward(async () => 0.25)(s(''))).toBe(0.25);
    expect(await jsFunctionReward(() => null)(s(''))).toBeNull();
    await expect(jsFunctionReward(function bad() {})(s(''))).rejects.toThrow(
      /bad returned undefined; expected a finite number or null/,
    );
    await expect(jsFunctionReward(() => NaN, 'nanFn')(s(''))).rejects.toThrow(/nanFn returned NaN/);
  });
  it('loads a function from a module', async () => {
    const f = jsModuleReward({
      module: new URL('../test/fixtures/verifiers.mjs', import.meta.url).href,
      export: 'containsAnswer',
    });
    expect(await f(s('it is 7', { answer: '7' }))).toBe(1);
    expect(await f(s('it is 8', { answer: '7' }))).toBe(0);
    const missing = jsModuleReward({
      module: new URL('../test/fixtures/verifiers.mjs', import.meta.url).href,
      export: 'nope',
    });
    await expect(missing(s(''))).rejects.toThrow(/has no exported function 'nope'/);
  });
});
