import { describe, expect, it } from 'vitest';
import { mathReward } from './mathReward';
import { extractBoxed, extractLastNumber, parseNumber } from './mathAnswer';

const verify = mathReward();
const score = (completion: string, answer: string) => verify({ prompt: 'q', completion, answer });

// [completion, ground truth, expected reward]
const cases: [string, string, number][] = [
  // boxed, nested braces
  ['The answer is \\boxed{42}.', '42', 1],
  ['\\boxed{\\frac{3}{4}}', '0.75', 1],
  ['\\boxed{\\dfrac{3}{4}}', '3/4', 1],
  ['\\boxed{\\tfrac{1}{2}}', '0.5', 1],
  ['\\boxed{\\frac{\\frac{1}{2}}{1}}', '0.5', 0], // nested fraction is not a plain number -> string compare fails
  ['\\boxed{\\frac{1}{3}}', '0.3333333', 1], // rel_tol 1e-6 holds: |1/3 − 0.3333333| = 3.3e-8
  ['\\boxed{\\frac{1}{3}}', '0.33', 0],
  ['first \\boxed{1} then \\boxed{2}', '2', 1], // last box wins
  ['\\boxed{-\\frac{3}{4}}', '-0.75', 1],
  ['\\boxed{\\frac{-3}{4}}', '-3/4', 1],
  ['\\boxed{\\frac12}', '1/2', 1],
  ['\\boxed{(1, 2)}', '(1,2)', 1], // non-numeric: normalised strings
  ['\\boxed{\\left( 1,2 \\right)}', '(1,2)', 1],
  ['\\boxed{\\sqrt{2}}', '\\sqrt{2}', 1],
  ['\\boxed{\\sqrt{3}}', '\\sqrt{2}', 0],
  ['\\boxed{x^{2}+1}', 'x^{2} + 1', 1],
  ['\\boxed{\\text{5 apples}}', '5', 1],
  ['\\boxed{5\\text{ cm}}', '5', 1],
  ['\\boxed{90^\\circ}', '90', 1],
  ['\\boxed{\\$18}', '18', 1],
  ['\\boxed{1{,}234}', '1234', 1],
  ['unfinished \\boxed{12', '12', 1], // unbalanced box: falls back to the last number
  // GSM8K ####, gold with reasoning
  ['Janet sells 16 - 3 - 4 = 9 eggs.\n#### 18', 'She makes 9 * 2 = $18.\n#### 18', 1],
  ['#### 1,234', '1234', 1],
  ['#### $1,234.50', '1234.5', 1],
  ['#### 17', '18', 0],
  ['#### -5', '-5', 1],
  ['#### \u22125', '-5', 1], // Unicode minus
  ['\\boxed{1,234}', '1234', 1],
  ['\\boxed{-1,234.5}', '-1234.50', 1],
  ['#### 5', '-5', 0],
  ['#### 72 dollars', '72', 1],
  ['#### 72.', '72', 1],
  ['#### 12 cm^2', '12', 1],
  ['#### 30 km/h.', '30', 1],
  ['\\boxed{2 or 3}', '2', 0], // a hedge is not an answer
  // last number
  ['so she has 3 apples and then 7 apples.', '7', 1],
  ['so she has 7 apples and then 3 apples.', '7', 0],
  ['The total is 1,234,567 items', '1234567', 1],
  ['Result: 0.5', '1/2', 1],
  ['Result: .5', '0.5', 1],
  ['It costs $12.00.', '12', 1],
  ['the answer is 3/4', '\\frac{3}{4}', 1],
  ['temperature drops to -12 degrees', '-12', 1],
  ['temperature drops to \u221212 degrees', '-12', 1],
  ['pages 5-7', '-7', 0], // a range, not a negative number
  ['pages 5-7', '7', 1],
  ['growth of 50%', '50', 1],
  ['growth of 50%', '0.5', 1],
  ['growth of 50\\%', '50', 1],
  ['no numbers here', '3', 0],
  ['x = 10', '10', 1],
  // answer tag
  ['<think>2+2 is 4, maybe 5</think><answer>4</answer>', '4', 1],
  ['<think>2+2</think><answer>five</answer>', '5', 0],
  // tolerance and scientific notation
  ['\\boxed{1e3}', '1000', 1],
  ['\\boxed{3.14159}', '3.1416', 0], // relative error 3e-6 > 1e-6
  ['\\boxed{1000000.5}', '1000000', 1], // relative error 5e-7 within 1e-6
  ['\\boxed{0}', '0.0000001', 1], // absolute tolerance 1e-6
];

describe('mathReward', () => {
  it(`scores ${cases.length} completions`, () => {
    const got = cases.map(([c, a]) => score(c, a));
    const failures = cases.map((c, i) => ({ c, got: got[i] })).filter(({ c, got }) => got !== c[2]);
    expect(failures).toEqual([]);
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it('returns null without ground truth and uses configured values', () => {
    expect(verify({ prompt: 'q', completion: '\\boxed{1}' })).toBeNull();
    expect(verify({ prompt: 'q', completion: '\\boxed{1}', answer: '  ' })).toBeNull();
    const custom = mathReward({ correct_reward: 2, incorrect_reward: -1 });
    expect(custom({ prompt: '', completion: '\\boxed{1}', answer: '1' })).toBe(2);
    expect(custom({ prompt: '', completion: '\\boxed{2}', answer: '1' })).toBe(-1);
  });

  it('follows the configured extraction order', () => {
    const text = '\\boxed{3} ... #### 4';
    expect(
      mathReward({ extraction_order: ['boxed'] })({ prompt: '', completion: text, answer: '3' }),
    ).toBe(1);
    expect(
      mathReward({ extraction_order: ['hash', 'boxed'] })({
        prompt: '',
        completion: text,
        answer: '4',
      }),
    ).toBe(1);
    expect(
      mathReward({ extraction_order: ['hash'] })({
        prompt: '',
        completion: 'the answer is 4',
        answer: '4',
      }),
    ).toBe(0);
  });

  it('honours a looser tolerance', () => {
    const loose = mathReward({ rel_tol: 1e-4 });
    expect(loose({ prompt: '', completion: '\\boxed{3.14159}', answer: '3.1416' })).toBe(1);
    const abs = mathReward({ abs_tol: 0.01, rel_tol: 0 });
    expect(abs({ prompt: '', completion: '\\boxed{0.333}', answer: '1/3' })).toBe(1);
    expect(abs({ prompt: '', completion: '\\boxed{0.32}', answer: '1/3' })).toBe(0);
  });

  it('rejects unknown options with the option name', () => {
    expect(() => mathReward({ tolerance: 1 } as never)).toThrow(/tolerance/);
  });

  it('extracts and parses pieces', () => {
    expect(extractBoxed('a \\boxed{\\frac{1}{\\sqrt{2}}} b')).toBe('\\frac{1}{\\sqrt{2}}');
    expect(extractBoxed('\\boxed{a\\}b}')).toBe('a\\}b');
    expect(extractLastNumber('from 1,000 to 2,500.')).toBe('2,500');
    expect(parseNumber('1,2345')).toBeNull();
    expect(parseNumber('-1,234.5')).toEqual([-1234.5]);
    expect(parseNumber('25%')).toEqual([25, 0.25]);
    expect(parseNumber('\\frac{7}{0}')).toBeNull();
    expect(parseNumber('3 + 4')).toBeNull();
  });
});
