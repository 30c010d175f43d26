// Property-based tests: coercion round-trips, and validation fails only with RxrlConfigError.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RxrlConfigError } from '@rxrl/core/base';
import { applyOverrides, coerceOverrideValue, parseOverride } from './overrides';
import { parseRecipe } from './loadRecipe';
import { formatResolvedConfig } from './resolvedConfig';
import { parse } from 'yaml';
import { testSections } from '../test/schemas';
import { ConfigValidationError, formatConfigIssue } from './configIssue';
import { formatKeyPath } from './source';

const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
// Words that a user might type as a bare list item; keywords that coerce to other types are excluded.
const word = fc
  .stringMatching(/^[a-z_][a-z0-9_]{0,8}$/)
  .filter((w) => !['true', 'false', 'null'].includes(w.toLowerCase()));
const scalar = fc.oneof(finite, fc.boolean(), fc.constant(null), word);

describe('override coercion properties', () => {
  it('any finite number typed as text comes back as that number', () => {
    fc.assert(
      fc.property(finite, (n) => {
        // String(-0) is "0": the sign of zero is not expressible, equality is what matters
        expect(coerceOverrideValue(String(n))).toBe(n === 0 ? 0 : n);
        expect(coerceOverrideValue(n.toExponential())).toBe(n === 0 ? 0 : n);
      }),
    );
  });

  it('integers round-trip, including negatives', () => {
    fc.assert(
      fc.property(fc.integer(), (n) => {
        expect(coerceOverrideValue(String(n))).toBe(n);
      }),
    );
  });

  it('booleans and null round-trip', () => {
    fc.assert(
      fc.property(fc.boolean(), (b) => {
        expect(coerceOverrideValue(String(b))).toBe(b);
      }),
    );
    expect(coerceOverrideValue(String(null))).toBe(null);
  });

  it('lists of scalars written as [a, b, c] round-trip, with or without spaces', () => {
    fc.assert(
      fc.property(fc.array(scalar, { maxLength: 6 }), fc.boolean(), (items, spaced) => {
        const text = `[${items.map((v) => String(v)).join(spaced ? ', ' : ',')}]`;
        expect(coerceOverrideValue(text)).toEqual(items.map((v) => (v === 0 ? 0 : v)));
      }),
    );
  });

  it('a double-quoted string always stays that string', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        expect(coerceOverrideValue(JSON.stringify(s))).toBe(s);
      }),
    );
  });

  it('an override followed by formatting and re-reading the YAML keeps the value', () => {
    fc.assert(
      fc.property(fc.array(word, { minLength: 1, maxLength: 3 }), scalar, (keyPath, v) => {
        const out = applyOverrides(parseRecipe('', 'r.yaml'), [
          `${keyPath.join('.')}=${String(v)}`,
        ]);
        let node: unknown = parse(formatResolvedConfig(out.value));
        for (const key of keyPath) node = (node as Record<string, unknown>)[key];
        expect(node).toEqual(v === 0 ? 0 : v);
      }),
    );
  });

  it('parsing overrides throws nothing but RxrlConfigError', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          const override = parseOverride(text);
          expect(override.keyPath.length).toBeGreaterThan(0);
        } catch (err) {
          expect(err).toBeInstanceOf(RxrlConfigError);
        }
      }),
    );
  });
});

describe('validation properties', () => {
  it('never throws anything but RxrlConfigError, and every message line names a key path', () => {
    const junk = fc.anything({
      withBigInt: true,
      withNullPrototype: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withTypedArray: true,
      withSparseArray: true,
      withBoxedValues: true,
      key: fc.oneof(
        fc.string(),
        fc.constantFrom('seed', 'policy', 'grpo', 'model_name', 'loss_type', '__proto__'),
      ),
    });
    const nearlyValid = fc.record({
      seed: fc.oneof(fc.integer(), junk),
      policy: fc.oneof(
        fc.record({
          model_name: fc.oneof(fc.string(), junk),
          learning_rate: fc.oneof(finite, junk),
        }),
        junk,
      ),
      grpo: fc.oneof(fc.dictionary(fc.string(), junk), junk),
    });
    fc.assert(
      fc.property(fc.oneof(junk, nearlyValid), (value) => {
        try {
          testSections.validate(value as Record<string, unknown>);
        } catch (err) {
          expect(err).toBeInstanceOf(RxrlConfigError);
          // every problem is one line naming its key path; the structured issues match the text
          const issues = (err as ConfigValidationError).issues;
          expect(issues.length).toBeGreaterThan(0);
          const lines = (err as Error).message.split('\n');
          expect(lines.length).toBe(issues.length === 1 ? 1 : issues.length + 1);
          issues.forEach((issue, i) => {
            expect(lines[issues.length === 1 ? 0 : i + 1]!.trim()).toBe(formatConfigIssue(issue));
            expect(formatConfigIssue(issue).startsWith(`${formatKeyPath(issue.keyPath)}: `)).toBe(
              true,
            );
          });
        }
      }),
      { numRuns: 300 },
    );
  });

  it('random overrides on a valid recipe either validate or fail with RxrlConfigError', () => {
    const keys = fc.constantFrom(
      'seed',
      'policy.model_name',
      'policy.learning_rate',
      'grpo.loss_type',
      'grpo.num_generations_per_prompt',
      'grpo.stop_strings',
      'grpo.x',
      'policy',
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(keys, fc.string({ maxLength: 12 })), { maxLength: 4 }),
        (pairs) => {
          const base = parseRecipe('policy:\n  model_name: m\n', 'r.yaml');
          try {
            testSections.validate(
              applyOverrides(
                base,
                pairs.map(([k, v]) => `${k}=${v}`),
              ),
            );
          } catch (err) {
            expect(err).toBeInstanceOf(RxrlConfigError);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
