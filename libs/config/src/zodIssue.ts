import type { z } from 'zod';
import { closestMatch } from './didYouMean';
import { describeValue } from './describeValue';
import { isIntegerSchema, isNullableSchema, schemaAt, unwrapSchema } from './schemaWalk';

/** What a zod issue says was expected, in words, plus an optional suggestion. */
export interface Expectation {
  problem: string;
  hint?: string;
}

const TYPE_WORDS: Record<string, string> = {
  number: 'a number',
  int: 'an integer',
  string: 'a string',
  boolean: 'a boolean (true or false)',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
  null: 'null',
  undefined: 'nothing',
  bigint: 'an integer',
  date: 'a date',
  tuple: 'a list',
  map: 'a mapping',
  set: 'a list',
  nan: 'NaN',
  never: 'nothing (this key takes no value)',
};

function typeWords(expected: string): string {
  return TYPE_WORDS[expected] ?? expected;
}

function bound(
  issue: { origin?: string; inclusive?: boolean; exact?: boolean },
  n: unknown,
  side: 'min' | 'max',
  integer: boolean,
): string {
  const origin = issue.origin ?? 'number';
  if (origin === 'number' || origin === 'bigint' || origin === 'int') {
    const op =
      side === 'min'
        ? issue.inclusive === false
          ? '>'
          : '>='
        : issue.inclusive === false
          ? '<'
          : '<=';
    return `expected ${integer || origin === 'int' ? 'an integer' : 'a number'} ${op} ${describeValue(n)}`;
  }
  const unit = origin === 'string' ? 'character' : 'item';
  const what =
    origin === 'string'
      ? 'a string'
      : origin === 'array' || origin === 'set'
        ? 'a list'
        : `a ${origin}`;
  const count = Number(n) + (issue.inclusive === false ? (side === 'min' ? 1 : -1) : 0);
  const plural = count === 1 ? unit : `${unit}s`;
  if (issue.exact) return `expected ${what} of exactly ${count} ${plural}`;
  return `expected ${what} of ${side === 'min' ? 'at least' : 'at most'} ${count} ${plural}`;
}

/** Turn one zod issue into words: expected type, allowed values, bounds. */
export function describeZodIssue(
  issue: z.core.$ZodIssue,
  schema: z.ZodType,
  value: unknown,
): Expectation {
  const integer = isIntegerSchema(schemaAt(schema, issue.path as (string | number)[]));
  switch (issue.code) {
    case 'invalid_type': {
      const expected = issue.expected === 'number' && integer ? 'int' : issue.expected;
      const orNull =
        expected !== 'null' &&
        isNullableSchema(schemaAt(schema, issue.path as (string | number)[]));
      return { problem: `expected ${typeWords(expected)}${orNull ? ' or null' : ''}` };
    }
    case 'too_small':
      return { problem: bound(issue, issue.minimum, 'min', integer) };
    case 'too_big':
      return { problem: bound(issue, issue.maximum, 'max', integer) };
    case 'invalid_value': {
      const values = issue.values.map((v) => describeValue(v));
      const problem =
        values.length === 1 ? `expected ${values[0]}` : `expected one of ${values.join(', ')}`;
      const options = issue.values.filter((v): v is string => typeof v === 'string');
      const near = typeof value === 'string' ? closestMatch(value, options) : undefined;
      return near !== undefined
        ? { problem, hint: `did you mean ${describeValue(near)}?` }
        : { problem };
    }
    case 'not_multiple_of':
      return { problem: `expected a multiple of ${describeValue(issue.divisor)}` };
    case 'invalid_format': {
      const pattern = (issue as { pattern?: string }).pattern;
      return {
        problem:
          issue.format === 'regex' && pattern
            ? `expected a string matching ${pattern}`
            : `expected a valid ${issue.format}`,
      };
    }
    case 'invalid_union': {
      // Alternatives that fail at the value itself (not deeper) can be listed: "a number or null".
      const flat = issue.errors.every(
        (branch) => branch.length === 1 && branch[0]!.path.length === 0,
      );
      // zod reports one error list per union option, in order
      const union = schemaAt(schema, issue.path as (string | number)[]);
      const options: z.ZodType[] = union
        ? ((unwrapSchema(union) as any)._zod.def.options ?? [])
        : [];
      const parts = flat
        ? issue.errors.map((branch, i) => {
            const inner = branch[0]!;
            if (inner.code === 'invalid_type') {
              return typeWords(
                inner.expected === 'number' && isIntegerSchema(options[i]) ? 'int' : inner.expected,
              );
            }
            if (inner.code === 'invalid_value')
              return inner.values.map((v) => describeValue(v)).join(' or ');
            return undefined;
          })
        : [];
      if (parts.length > 0 && parts.every((p) => p !== undefined)) {
        return { problem: `expected ${[...new Set(parts)].join(' or ')}` };
      }
      return { problem: `does not match any allowed form (${issue.message})` };
    }
    default:
      return { problem: issue.message };
  }
}
