import { describe, expect, it } from 'vitest';
import { Rng, RxrlConfigError } from '@rxrl/core/base';
import { BuiltinTokenizer } from '../tokenizer/builtinTokenizer';
import { tokenizeSftRows } from '../formats/tokenizeSft';
import { tokenizePreferenceRows } from '../formats/tokenizePreference';
import { tokenizeGrpoRows } from '../formats/tokenizeGrpo';
import {
  ArithmeticTask,
  evaluateArithmetic,
  operandDigits,
  parseIntegerAnswer,
  splitOf,
  wrongAnswer,
} from './arithmetic';

describe('evaluateArithmetic', () => {
  it('gives * precedence over + and -, left to right otherwise', () => {
    expect(evaluateArithmetic([2, 3, 4], ['+', '*'])).toBe(14n);
    expect(evaluateArithmetic([10, 2, 3, 1], ['-', '*', '-'])).toBe(3n);
    expect(evaluateArithmetic([7, 9, 2], ['-', '-'])).toBe(-4n);
    expect(evaluateArithmetic([6, 7], ['*'])).toBe(42n);
    // Beyond 2^53: 999999999^2 = 999999998000000001 exactly.
    expect(evaluateArithmetic([999999999, 999999999], ['*'])).toBe(999999998000000001n);
  });
});

describe('ArithmeticTask', () => {
  it('answers every problem correctly (checked by JavaScript evaluating the expression)', () => {
    const task = new ArithmeticTask({ min_operands: 2, max_operands: 4, max_digits: 3, seed: 3 });
    for (const p of task.problems('train', 500)) {
      expect(Number(p.answer)).toBe(Function(`return ${p.question}`)() as number);
      expect(p.prompt).toBe(`${p.question}=`);
    }
  });

  it('respects the difficulty settings', () => {
    const task = new ArithmeticTask({
      min_operands: 3,
      max_operands: 3,
      min_digits: 2,
      max_digits: 2,
      operators: ['*'],
    });
    for (const p of task.problems('train', 200)) {
      expect(p.operands).toHaveLength(3);
      expect(p.operators).toEqual(['*', '*']);
      for (const x of p.operands) expect(x >= 10 && x <= 99).toBe(true);
    }
    const seen = new Set(
      new ArithmeticTask({ max_digits: 1, operators: ['+'] })
        .problems('train', 2000)
        .flatMap((p) => p.operands),
    );
    expect([...seen].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const nonNeg = new ArithmeticTask({ operators: ['-'], allow_negative: false }).problems(
      'train',
      300,
    );
    expect(nonNeg.every((p) => !p.answer.startsWith('-'))).toBe(true);
    expect(() => new ArithmeticTask({ min_digits: 3, max_digits: 2 })).toThrow(
      /min_digits must be <= max_digits/,
    );
  });

  it('is deterministic by seed', () => {
    const a = new ArithmeticTask({ seed: 7 }).sftRows('train', 50);
    expect(new ArithmeticTask({ seed: 7 }).sftRows('train', 50)).toEqual(a);
    expect(new ArithmeticTask({ seed: 8 }).sftRows('train', 50)).not.toEqual(a);
  });

  it('never puts the same problem in train and validation (thousands, several seeds)', () => {
    const opts = {
      max_digits: 2,
      operators: ['+', '-', '*'] as ('+' | '-' | '*')[],
      validation_fraction: 0.2,
    };
    const train = new Set<string>();
    const valid = new Set<string>();
    for (const seed of [0, 1, 2]) {
      const task = new ArithmeticTask({ ...opts, seed });
      for (const p of task.problems('train', 3000)) train.add(p.question);
      for (const p of task.problems('validation', 1000)) valid.add(p.question);
    }
    // 2-operand, <=2-digit problems: 100*100*3 = 30000 in all, so both sets are large.
    expect(train.size).toBeGreaterThan(3000);
    expect(valid.size).toBeGreaterThan(1000);
    for (const q of valid) expect(train.has(q)).toBe(false);
    // The hash split puts about validation_fraction of all problems in validation.
    let inValid = 0;
    for (let a = 0; a < 100; a++)
      for (let b = 0; b < 100; b++) if (splitOf(`${a}+${b}`, 0.2) === 'validation') inValid++;
    expect(inValid / 10000).toBeGreaterThan(0.18);
    expect(inValid / 10000).toBeLessThan(0.22);
  });

  it('draws operands uniformly over 0..99 and + / - with equal odds (1-2 digits)', () => {
    const task = new ArithmeticTask({ operators: ['+', '-'], max_digits: 2 });
    const problems = task.problems('train', 20_000);
    const operands = problems.flatMap((p) => p.operands);
    // uniform over 0..99: 10% of operands have one digit (by_digits would give 50%)
    const oneDigit = operands.filter((x) => x < 10).length / operands.length;
    expect(oneDigit).toBeGreaterThan(0.09);
    expect(oneDigit).toBeLessThan(0.11);
    const mean = operands.reduce((a, x) => a + x, 0) / operands.length;
    expect(mean).toBeGreaterThan(48.5);
    expect(mean).toBeLessThan(50.5);
    expect(new Set(operands).size).toBe(100);
    const plus = problems.filter((p) => p.operators[0] === '+').length / problems.length;
    expect(plus).toBeGreaterThan(0.48);
    expect(plus).toBeLessThan(0.52);
    // both operands two-digit in ~81% of problems (by_digits: 25%)
    const twoByTwo = problems.filter((p) => p.operands.every((x) => x >= 10)).length;
    expect(twoByTwo / problems.length).toBeGreaterThan(0.79);
    expect(twoByTwo / problems.length).toBeLessThan(0.83);
    const old = new ArithmeticTask({ operators: ['+', '-'], operand_sampling: 'by_digits' })
      .problems('train', 20_000)
      .flatMap((p) => p.operands);
    expect(old.filter((x) => x < 10).length / old.length).toBeGreaterThan(0.48);
  });

  it('validation never repeats a problem and is disjoint from the training split', () => {
    const task = new ArithmeticTask({ operators: ['+', '-'], max_digits: 2, seed: 0 });
    const val = task.grpoRows('validation', 1024).map((r) => r['prompt'] as string);
    expect(new Set(val).size).toBe(1024);
    const train = new Set(task.sftRows('train', 40_000).map((r) => r['prompt'] as string));
    expect(val.filter((q) => train.has(q))).toEqual([]);
    // training draws with replacement: 40k draws over ~18k problems repeat many
    expect(train.size).toBeLessThan(18_000);
    expect(train.size).toBeGreaterThan(15_000);
    // 20,000 problems (100 x 100 x 2) at validation_fraction 0.1: ~2,000 held out
    expect(() => task.problems('validation', 2_300)).toThrow(/holds \d+ distinct problems/);
  });

  it('rowProblems are the problems behind each row generator', () => {
    const task = new ArithmeticTask({ operators: ['+', '-'], seed: 4 });
    const prompts = task.sftRows('train', 30).map((r) => r['prompt']);
    expect(task.rowProblems('sft', 'train', 30).map((p) => p.prompt)).toEqual(prompts);
    const grpo = task.grpoRows('train', 30).map((r) => r['prompt']);
    expect(task.rowProblems('grpo', 'train', 30).map((p) => p.prompt)).toEqual(grpo);
    const pref = task.preferenceRows('train', 30).map((r) => r['prompt']);
    expect(task.rowProblems('preference', 'train', 30).map((p) => p.prompt)).toEqual(pref);
  });

  it('operandDigits reads the digit count of each operand, or null for other text', () => {
    expect(operandDigits('7+42=')).toEqual([1, 2]);
    expect(operandDigits('100-3*12=')).toEqual([3, 1, 2]);
    expect(operandDigits('What is 2+2?')).toBeNull();
    expect(operandDigits('12=')).toBeNull();
  });

  it('fails clearly when the difficulty leaves no validation problems', () => {
    // One-digit additions: 100 problems in all; at fraction 1e-6 none is in validation.
    const all = Array.from({ length: 100 }, (_, i) => `${Math.floor(i / 10)}+${i % 10}`);
    expect(all.filter((q) => splitOf(q, 1e-6) === 'validation')).toEqual([]);
    const task = new ArithmeticTask({ max_digits: 1, operators: ['+'], validation_fraction: 1e-6 });
    expect(() => task.problems('validation', 1)).toThrow(RxrlConfigError);
    expect(() => task.problems('validation', 1)).toThrow(
      /could not draw 1 validation problems.*leaves too few validation problems at validation_fraction 0.000001 \(it holds 0 distinct problems\)/,
    );
    expect(task.problems('train', 5)).toHaveLength(5);
  });

  it('makes SFT demonstrations, preference pairs and GRPO prompts', () => {
    const task = new ArithmeticTask({ seed: 1 });
    const [sft] = task.sftRows('train', 1) as {
      prompt: string;
      completion: string;
      answer: string;
    }[];
    expect(sft!.completion).toBe(sft!.answer);
    expect(sft!.prompt.endsWith('=')).toBe(true);
    const chat = new ArithmeticTask({ seed: 1, chat: true });
    const [m] = chat.sftRows('train', 1) as { messages: { role: string; content: string }[] }[];
    expect(m!.messages.map((x) => x.role)).toEqual(['user', 'assistant']);
    const [g] = task.grpoRows('validation', 1) as {
      prompt: string;
      answer: string;
      num_operands: number;
    }[];
    expect(g!.num_operands).toBe(2);
    expect(Number(g!.answer)).toBe(Function(`return ${g!.prompt.slice(0, -1)}`)() as number);
    const pairs = task.preferenceRows('train', 300) as {
      chosen: string;
      rejected: string;
      answer: string;
      error_kind: string;
    }[];
    // the ground truth travels with the pair (the chosen is it)
    for (const p of pairs) expect(p.answer).toBe(p.chosen);
    const kinds = new Set(pairs.map((p) => p.error_kind));
    expect(kinds).toEqual(new Set(['off_by_one', 'digit_swap', 'wrong_carry']));
    for (const p of pairs) {
      expect(p.rejected).not.toBe(p.chosen);
      const diff = BigInt(p.rejected) - BigInt(p.chosen);
      const absDiff = diff < 0n ? -diff : diff;
      if (p.error_kind === 'off_by_one') expect(absDiff).toBe(1n);
      if (p.error_kind === 'wrong_carry') expect(/^10+$/.test(absDiff.toString())).toBe(true);
      if (p.error_kind === 'digit_swap') {
        const sorted = (s: string) => [...s.replace('-', '')].sort().join('');
        expect(sorted(p.rejected)).toBe(sorted(p.chosen));
      }
    }
  });

  it('wrong answers: hand-checked cases', () => {
    const rng = new Rng(0);
    expect(wrongAnswer(21n, 'digit_swap', rng)).toEqual({ value: 12n, kind: 'digit_swap' });
    expect(wrongAnswer(-56n, 'digit_swap', rng)).toEqual({ value: -65n, kind: 'digit_swap' });
    // "10" would swap to "01": falls back to a carry error of ±10.
    const w = wrongAnswer(10n, 'digit_swap', rng);
    expect(w.kind).toBe('wrong_carry');
    expect([0n, 20n]).toContain(w.value);
    expect([6n, 8n]).toContain(wrongAnswer(7n, 'off_by_one', rng).value);
  });

  it('parses integer answers from completions', () => {
    expect(parseIntegerAnswer('19')).toBe('19');
    expect(parseIntegerAnswer(' -007 apples')).toBe('-7');
    expect(parseIntegerAnswer('none')).toBeNull();
  });

  it('rows tokenise with the built-in tokenizer with no unknown characters', () => {
    const tok = new BuiltinTokenizer();
    for (const chat of [false, true]) {
      const task = new ArithmeticTask({ max_operands: 3, max_digits: 3, chat });
      const sft = tokenizeSftRows(tok, task.sftRows('train', 200));
      const pref = tokenizePreferenceRows(tok, task.preferenceRows('train', 200));
      const grpo = tokenizeGrpoRows(tok, task.grpoRows('train', 200));
      expect(sft.stats.emitted + pref.stats.emitted + grpo.stats.emitted).toBe(600);
      for (const v of [
        sft.input_tokens.values,
        pref.prompt_tokens.values,
        pref.rejected_tokens.values,
        grpo.prompt_tokens.values,
      ]) {
        expect(v.includes(tok.unkTokenId)).toBe(false);
      }
      // Prompts stay short for the tiny model: at most "999*999-999=" plus markers.
      expect(grpo.stats.longest).toBeLessThanOrEqual(1 + 12 + (chat ? 2 : 0));
    }
  });
});
