import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { RxrlConfigError } from '@rxrl/core/base';
import { ConfigValidationError } from './configIssue';
import { defineSections } from './defineSections';
import { loadRecipe, parseRecipe } from './loadRecipe';
import { applyOverrides } from './overrides';
import { resolveConfig } from './resolveConfig';
import { testSections } from '../test/schemas';

const testDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '../test');
const fixture = (name: string) => path.join(testDir, 'fixtures', name);
const load = (name: string) => loadRecipe(fixture(name), { displayRoot: testDir });

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigValidationError);
    expect(err).toBeInstanceOf(RxrlConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigValidationError');
}

/** Validate a one-file recipe given as text; errors name `r.yaml`. */
const validateText = (text: string, overrides: string[] = []) =>
  testSections.validate(applyOverrides(parseRecipe(text, 'r.yaml'), overrides));

describe('defineSections', () => {
  it('validates a recipe and fills defaults from the schemas', () => {
    expect(resolveConfig(fixture('grpo.yaml'), ['grpo.temperature=0.7'], testSections)).toEqual({
      seed: 7,
      policy: { model_name: 'tiny-llama', learning_rate: 3e-6, max_grad_norm: 1 },
      grpo: {
        num_generations_per_prompt: 8,
        loss_type: 'token',
        stop_strings: ['</answer>'],
        temperature: 0.7,
      },
    });
    expect(validateText('policy:\n  model_name: m\n')).toEqual({
      seed: 42,
      policy: { model_name: 'm', learning_rate: 1e-5, max_grad_norm: 1 },
      grpo: { num_generations_per_prompt: 8, loss_type: 'token', stop_strings: [], temperature: 1 },
    });
  });

  it('unknown key: did you mean, with file and line', () => {
    expect(
      messageOf(() =>
        validateText('policy:\n  model_name: m\ngrpo:\n  num_generation_per_prompt: 8\n'),
      ),
    ).toBe(
      'r.yaml:4 grpo.num_generation_per_prompt: unknown key, got 8; did you mean `num_generations_per_prompt`?',
    );
  });

  it('unknown section: did you mean among section names', () => {
    expect(
      messageOf(() => validateText('policy:\n  model_name: m\ngrop:\n  temperature: 1\n')),
    ).toBe('r.yaml:3 grop: unknown key, got {"temperature":1}; did you mean `grpo`?');
  });

  it('unknown key with nothing close lists the known keys', () => {
    expect(messageOf(() => validateText('policy:\n  model_name: m\n  optimizer: adamw\n'))).toBe(
      'r.yaml:3 policy.optimizer: unknown key, got "adamw"; expected one of `model_name`, `learning_rate`, `max_grad_norm`',
    );
  });

  it('wrong type', () => {
    expect(messageOf(() => validateText('policy:\n  model_name: m\n  learning_rate: fast\n'))).toBe(
      'r.yaml:3 policy.learning_rate: expected a number, got "fast"',
    );
    expect(
      messageOf(() =>
        validateText('policy:\n  model_name: m\ngrpo:\n  num_generations_per_prompt: 2.5\n'),
      ),
    ).toBe('r.yaml:4 grpo.num_generations_per_prompt: expected an integer, got 2.5');
    expect(messageOf(() => validateText('policy: [1]\n'))).toBe(
      'r.yaml:1 policy: expected a mapping, got [1]',
    );
  });

  it('out of range: integer and number bounds, inclusive and exclusive', () => {
    expect(
      messageOf(() =>
        validateText('policy:\n  model_name: m\ngrpo:\n  num_generations_per_prompt: 0\n'),
      ),
    ).toBe('r.yaml:4 grpo.num_generations_per_prompt: expected an integer >= 1, got 0');
    expect(
      messageOf(() =>
        validateText('policy:\n  model_name: m\ngrpo:\n  num_generations_per_prompt: 4096\n'),
      ),
    ).toBe('r.yaml:4 grpo.num_generations_per_prompt: expected an integer <= 1024, got 4096');
    expect(messageOf(() => validateText('policy:\n  model_name: m\n  learning_rate: 0\n'))).toBe(
      'r.yaml:3 policy.learning_rate: expected a number > 0, got 0',
    );
    expect(messageOf(() => validateText('policy:\n  model_name: ""\n'))).toBe(
      'r.yaml:2 policy.model_name: expected a string of at least 1 character, got ""',
    );
  });

  it('enum: lists the allowed values and suggests the closest', () => {
    expect(
      messageOf(() => validateText('policy:\n  model_name: m\ngrpo:\n  loss_type: sequnce\n')),
    ).toBe(
      'r.yaml:4 grpo.loss_type: expected one of "token", "sequence", got "sequnce"; did you mean "sequence"?',
    );
    expect(
      messageOf(() => validateText('policy:\n  model_name: m\ngrpo:\n  loss_type: per_sample\n')),
    ).toBe('r.yaml:4 grpo.loss_type: expected one of "token", "sequence", got "per_sample"');
  });

  it('nullable: names both alternatives', () => {
    expect(messageOf(() => validateText('policy:\n  model_name: m\n  max_grad_norm: none\n'))).toBe(
      'r.yaml:3 policy.max_grad_norm: expected a number or null, got "none"',
    );
  });

  it('missing required key is reported where its section is', () => {
    expect(messageOf(() => validateText('policy:\n  learning_rate: 0.1\n'))).toBe(
      'r.yaml:1 policy.model_name: missing, expected a string',
    );
    expect(messageOf(() => validateText('seed: 1\n'))).toBe(
      'r.yaml policy: missing, expected a mapping',
    );
  });

  it('reports every error at once, in file order, across defaults and overrides', () => {
    const config = applyOverrides(load('errors.yaml'), [
      'grpo.temperature=hot',
      'policy.max_grad_norm=-1',
    ]);
    expect(messageOf(() => testSections.validate(config))).toBe(
      [
        '7 configuration errors:',
        '  fixtures/errors.yaml:2 seed: expected an integer >= 0, got -1',
        '  fixtures/errors.yaml:4 policy.learning_rate: expected a number, got "fast"',
        '  fixtures/errors.yaml:6 grpo.num_generation_per_prompt: unknown key, got 8; did you mean `num_generations_per_prompt`?',
        '  fixtures/errors.yaml:7 grpo.loss_type: expected one of "token", "sequence", got "tokn"; did you mean "token"?',
        '  fixtures/errors.yaml:8 grpo.stop_strings.1: expected a string, got 3',
        '  command line policy.max_grad_norm: expected a number > 0, got -1',
        '  command line grpo.temperature: expected a number, got "hot"',
      ].join('\n'),
    );
  });

  it('exposes the issues as data', () => {
    try {
      validateText('policy:\n  model_name: m\n', ['seed=x']);
      throw new Error('unreachable');
    } catch (err) {
      expect((err as ConfigValidationError).issues).toEqual([
        {
          keyPath: ['seed'],
          source: { kind: 'command line', override: 'seed=x' },
          problem: 'expected an integer',
          value: 'x',
          present: true,
        },
      ]);
    }
  });

  it('source positions: a key from a default file, then overridden on the command line', () => {
    const fromFile = load('grpo.yaml');
    const bad = applyOverrides(fromFile, ['grpo.num_generations_per_prompt=0']);
    expect(messageOf(() => testSections.validate(bad))).toBe(
      'command line grpo.num_generations_per_prompt: expected an integer >= 1, got 0',
    );
    expect(
      testSections
        .check(applyOverrides(load('base.yaml'), ['grpo.loss_type=x']))
        .map((i) => i.source),
    ).toEqual([{ kind: 'command line', override: 'grpo.loss_type=x' }]);
    expect(testSections.check(load('base.yaml'))).toEqual([]);
  });

  it('plain objects validate without sources', () => {
    expect(messageOf(() => testSections.validate({ policy: { model_name: 'm', lr: 1 } }))).toBe(
      'policy.lr: unknown key, got 1; expected one of `model_name`, `learning_rate`, `max_grad_norm`',
    );
    expect(
      messageOf(() => testSections.validate([1, 2] as unknown as Record<string, unknown>)),
    ).toBe('(root): expected a mapping of sections, got [1,2]');
  });

  it('odd keys are quoted in key paths', () => {
    expect(
      messageOf(() =>
        testSections.validate({ policy: { model_name: 'm' }, grpo: { '': 1, 'a.b': 2 } }),
      ),
    ).toBe(
      [
        '2 configuration errors:',
        '  grpo."": unknown key, got 1; expected one of `num_generations_per_prompt`, `loss_type`, `stop_strings`, `temperature`',
        '  grpo."a.b": unknown key, got 2; expected one of `num_generations_per_prompt`, `loss_type`, `stop_strings`, `temperature`',
      ].join('\n'),
    );
  });

  it('plain z.object sections are strict too; z.looseObject and records accept any keys', () => {
    const sections = defineSections({
      env: z.looseObject({ name: z.string() }),
      rewards: z.record(z.string(), z.object({ weight: z.number() })),
    });
    expect(
      sections.validate({ env: { name: 'math', extra: 1 }, rewards: { format: { weight: 1 } } }),
    ).toEqual({
      env: { name: 'math', extra: 1 },
      rewards: { format: { weight: 1 } },
    });
    expect(
      messageOf(() =>
        sections.validate({ env: { name: 'a' }, rewards: { format: { wieght: 1 } } }),
      ),
    ).toBe(
      [
        '2 configuration errors:',
        '  rewards.format.wieght: unknown key, got 1; did you mean `weight`?',
        '  rewards.format.weight: missing, expected a number',
      ].join('\n'),
    );
  });

  it('unions, refinements, multiples and patterns', () => {
    const sections = defineSections({
      rollout: z.strictObject({
        max_new_tokens: z.union([z.int().min(1), z.literal('auto')]),
        batch_size: z.int().multipleOf(8),
        kind: z.string().regex(/^[a-z]+$/),
        top_p: z.number().refine((p) => p > 0 && p <= 1, 'expected a probability in (0, 1]'),
        engine: z.discriminatedUnion('type', [
          z.strictObject({ type: z.literal('local') }),
          z.strictObject({ type: z.literal('remote'), url: z.string() }),
        ]),
      }),
    });
    const lines = messageOf(() =>
      sections.validate({
        rollout: {
          max_new_tokens: 'lots',
          batch_size: 12,
          kind: 'A1',
          top_p: 0,
          engine: { type: 'remote' },
        },
      }),
    ).split('\n');
    expect(lines).toEqual([
      '5 configuration errors:',
      '  rollout.max_new_tokens: expected an integer or "auto", got "lots"',
      '  rollout.batch_size: expected a multiple of 8, got 12',
      '  rollout.kind: expected a string matching /^[a-z]+$/, got "A1"',
      '  rollout.top_p: expected a probability in (0, 1], got 0',
      '  rollout.engine.url: missing, expected a string',
    ]);
  });

  it('extend adds sections and refuses duplicates', () => {
    const more = testSections.extend({
      logger: z.object({ log_dir: z.string().nullable().default(null) }).prefault({}),
    });
    expect(more.validate({ policy: { model_name: 'm' } }).logger).toEqual({ log_dir: null });
    expect(() => testSections.extend({ seed: z.number() })).toThrow(
      "config section 'seed' is registered twice",
    );
  });
});
