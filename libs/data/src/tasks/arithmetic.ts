import { z } from 'zod';
import { Rng, RxrlConfigError, type ChatMessage } from '@rxrl/core/base';

/** Difficulty and shape of the built-in arithmetic task. */
export const ArithmeticOptions = z
  .object({
    /** Fewest operands per problem. */
    min_operands: z.number().int().min(2).max(8).default(2),
    /** Most operands per problem. */
    max_operands: z.number().int().min(2).max(8).default(2),
    /** Fewest digits per operand. */
    min_digits: z.number().int().min(1).max(9).default(1),
    /** Most digits per operand. */
    max_digits: z.number().int().min(1).max(9).default(2),
    /** Operators to draw from; `*` binds tighter than `+` and `-`. */
    operators: z
      .array(z.enum(['+', '-', '*']))
      .min(1)
      .default(['+', '-', '*']),
    /**
     * How operands are drawn. `uniform`: each operand uniformly over every value with
     * min_digits..max_digits digits (0..99 for 1-2 digits), so a problem's difficulty
     * follows the task's real operand space. `by_digits`: the digit count first, with
     * equal odds, then the value; three in four 1-2 digit problems then have a one-digit
     * operand (the distribution models/arith-sft was trained on).
     */
    operand_sampling: z.enum(['uniform', 'by_digits']).default('uniform'),
    /** Whether a problem may have a negative answer (else it is redrawn). */
    allow_negative: z.boolean().default(true),
    /** Fraction of all possible problems that belong to the validation split. */
    validation_fraction: z.number().gt(0).lt(1).default(0.1),
    /** Emit chat messages (`messages` / message-list prompts) instead of plain strings. */
    chat: z.boolean().default(false),
    /** Seed of the problem stream; the train/validation split does not depend on it. */
    seed: z.number().int().default(0),
  })
  .refine((o) => o.min_operands <= o.max_operands, {
    message: 'min_operands must be <= max_operands',
    path: ['min_operands'],
  })
  .refine((o) => o.min_digits <= o.max_digits, {
    message: 'min_digits must be <= max_digits',
    path: ['min_digits'],
  });
export type ArithmeticOptions = z.infer<typeof ArithmeticOptions>;

export type ArithmeticSplit = 'train' | 'validation';
export type WrongAnswerKind = 'off_by_one' | 'digit_swap' | 'wrong_carry';
/** The row generators; each draws its problems from its own stream. */
export type ArithmeticRowKind = 'sft' | 'preference' | 'grpo';

/** One problem: `prompt` is what the model sees ("12+7="), `answer` its integer result. */
export interface ArithmeticProblem {
  /** The expression, e.g. "12+7*3". */
  question: string;
  /** The prompt, the expression followed by "=". */
  prompt: string;
  /** The exact integer answer in decimal. */
  answer: string;
  operands: number[];
  operators: ('+' | '-' | '*')[];
}

/** Exact value of an expression of non-negative integers with + - * (`*` first). */
export function evaluateArithmetic(
  operands: readonly number[],
  operators: readonly string[],
): bigint {
  // Fold products into terms, then add the signed terms.
  let total = 0n;
  let term = BigInt(operands[0]!);
  let sign = 1n;
  for (let i = 0; i < operators.length; i++) {
    const op = operators[i];
    const x = BigInt(operands[i + 1]!);
    if (op === '*') {
      term *= x;
    } else {
      total += sign * term;
      sign = op === '+' ? 1n : -1n;
      term = x;
    }
  }
  return total + sign * term;
}

/** Which split a problem belongs to: a hash of its text, so the splits never share a problem, whatever the seed. */
export function splitOf(question: string, validationFraction: number): ArithmeticSplit {
  let h = 0x811c9dc5;
  const salted = `rxrl-arithmetic:${question}`;
  for (let i = 0; i < salted.length; i++) {
    h ^= salted.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // Final avalanche so that neighbouring questions spread over [0, 1).
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return (h >>> 0) / 2 ** 32 < validationFraction ? 'validation' : 'train';
}

/** The integer a completion answers with: its first (optionally negative) integer, or null. */
export function parseIntegerAnswer(completion: string): string | null {
  const m = /-?\d+/.exec(completion);
  return m === null ? null : BigInt(m[0]).toString();
}

/**
 * The built-in arithmetic task family: random expressions over + - * with
 * adjustable operand count and digit count, exact integer answers, and row
 * generators for SFT demonstrations, preference pairs and GRPO prompts.
 * Deterministic by `seed`; train and validation splits never share a problem.
 */
export class ArithmeticTask {
  readonly options: ArithmeticOptions;

  constructor(options: Partial<z.input<typeof ArithmeticOptions>> = {}) {
    this.options = ArithmeticOptions.parse(options);
  }

  /**
   * `count` problems of `split`, the same list for the same options and seed. Training
   * problems are drawn with replacement; validation problems never repeat, so a
   * held-out score counts each problem once.
   */
  problems(split: ArithmeticSplit, count: number, stream = 'problems'): ArithmeticProblem[] {
    const rng = new Rng(this.options.seed).fork(`${stream}/${split}`);
    const out: ArithmeticProblem[] = [];
    const unique = split === 'validation';
    // Stop when 50k draws in a row neither land in this split nor show a new problem:
    // the difficulty's whole problem space has been seen and this split is exhausted.
    const seen = new Set<string>();
    let sinceUseful = 0;
    while (out.length < count) {
      if (++sinceUseful > 50_000) {
        const have = unique ? ` (it holds ${out.length} distinct problems)` : '';
        throw new RxrlConfigError(
          `arithmetic task: could not draw ${count} ${split} problems; the difficulty ` +
            `(operands ${this.options.min_operands}-${this.options.max_operands}, digits ${this.options.min_digits}-${this.options.max_digits}) ` +
            `leaves too few ${split} problems at validation_fraction ${this.options.validation_fraction}${have}`,
        );
      }
      const p = this.draw(rng);
      if (p === null) continue;
      const isNew = !seen.has(p.question);
      if (isNew) {
        seen.add(p.question);
        sinceUseful = 0;
      }
      if (splitOf(p.question, this.options.validation_fraction) !== split) continue;
      if (unique && !isNew) continue;
      out.push(p);
      sinceUseful = 0;
    }
    return out;
  }

  /** The problems behind `count` rows of a row generator, in row order. */
  rowProblems(kind: ArithmeticRowKind, split: ArithmeticSplit, count: number): ArithmeticProblem[] {
    return this.problems(split, count, kind);
  }

  /** SFT demonstrations: `{prompt, completion, answer}` ("12+7=" → "19"), or `{messages, answer}` with `chat`. */
  sftRows(split: ArithmeticSplit, count: number): Record<string, unknown>[] {
    return this.rowProblems('sft', split, count).map((p) =>
      this.options.chat
        ? { messages: [user(p.prompt), { role: 'assistant', content: p.answer }], answer: p.answer }
        : { prompt: p.prompt, completion: p.answer, answer: p.answer },
    );
  }

  /**
   * Preference pairs: the correct answer chosen over a plausible wrong one
   * (`error_kind`: off by one, two adjacent digits swapped, or a carry error of
   * ±10^k), as `{prompt, chosen, rejected, answer, error_kind}` (`answer` is the ground
   * truth, for a verifier that scores both responses, e.g. the `reward.pair` DPO stage).
   */
  preferenceRows(
    split: ArithmeticSplit,
    count: number,
    kinds: readonly WrongAnswerKind[] = ['off_by_one', 'digit_swap', 'wrong_carry'],
  ): Record<string, unknown>[] {
    const rng = new Rng(this.options.seed).fork(`wrong/${split}`);
    return this.rowProblems('preference', split, count).map((p) => {
      const kind = kinds[rng.int(kinds.length)]!;
      const { value, kind: used } = wrongAnswer(BigInt(p.answer), kind, rng);
      return {
        prompt: this.options.chat ? [user(p.prompt)] : p.prompt,
        chosen: p.answer,
        rejected: value.toString(),
        answer: p.answer,
        error_kind: used,
      };
    });
  }

  /** GRPO prompts with ground truth: `{prompt | messages, answer, num_operands}`. */
  grpoRows(split: ArithmeticSplit, count: number): Record<string, unknown>[] {
    return this.rowProblems('grpo', split, count).map((p) => ({
      ...(this.options.chat ? { messages: [user(p.prompt)] } : { prompt: p.prompt }),
      answer: p.answer,
      num_operands: p.operands.length,
    }));
  }

  private draw(rng: Rng): ArithmeticProblem | null {
    const o = this.options;
    const n = o.min_operands + rng.int(o.max_operands - o.min_operands + 1);
    const operands: number[] = [];
    const operators: ('+' | '-' | '*')[] = [];
    const lowest = o.min_digits === 1 ? 0 : 10 ** (o.min_digits - 1);
    for (let i = 0; i < n; i++) {
      if (o.operand_sampling === 'uniform') {
        operands.push(lowest + rng.int(10 ** o.max_digits - lowest));
      } else {
        const digits = o.min_digits + rng.int(o.max_digits - o.min_digits + 1);
        const lo = digits === 1 ? 0 : 10 ** (digits - 1);
        operands.push(lo + rng.int(10 ** digits - lo));
      }
      if (i > 0) operators.push(o.operators[rng.int(o.operators.length)]!);
    }
    const value = evaluateArithmetic(operands, operators);
    if (!o.allow_negative && value < 0n) return null;
    let question = String(operands[0]);
    operators.forEach((op, i) => (question += op + String(operands[i + 1])));
    return { question, prompt: `${question}=`, answer: value.toString(), operands, operators };
  }
}

function user(content: string): ChatMessage {
  return { role: 'user', content };
}

/** A plausible wrong answer of the given kind (a digit swap falls back to a carry error when no two adjacent digits differ). */
export function wrongAnswer(
  correct: bigint,
  kind: WrongAnswerKind,
  rng: Rng,
): { value: bigint; kind: WrongAnswerKind } {
  const neg = correct < 0n;
  const digits = (neg ? -correct : correct).toString();
  if (kind === 'digit_swap') {
    const spots: number[] = [];
    for (let i = 0; i + 1 < digits.length; i++) {
      // A swap that would lead with a zero changes the length: not plausible.
      if (digits[i] !== digits[i + 1] && !(i === 0 && digits[1] === '0')) spots.push(i);
    }
    if (spots.length > 0) {
      const i = spots[rng.int(spots.length)]!;
      const swapped = digits.slice(0, i) + digits[i + 1] + digits[i] + digits.slice(i + 2);
      const v = BigInt(swapped);
      return { value: neg ? -v : v, kind };
    }
    kind = 'wrong_carry';
  }
  const sign = rng.int(2) === 0 ? -1n : 1n;
  if (kind === 'off_by_one') return { value: correct + sign, kind };
  // A dropped or spurious carry moves one digit at position k >= 1 by one.
  const k = 1 + rng.int(Math.max(1, digits.length - 1));
  return { value: correct + sign * 10n ** BigInt(k), kind: 'wrong_carry' };
}

/**
 * The digit count of each operand of an arithmetic prompt ("7+42=" → [1, 2]), or
 * null when the text is not a plain expression of non-negative integers: what
 * `rxrl eval` groups accuracy by.
 */
export function operandDigits(prompt: string): number[] | null {
  const m = /^\s*(\d+(?:[+\-*]\d+)+)\s*=?\s*$/.exec(prompt);
  return m === null ? null : m[1]!.split(/[+\-*]/).map((x) => x.length);
}
