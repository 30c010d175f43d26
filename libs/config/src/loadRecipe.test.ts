import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RxrlConfigError } from '@rxrl/core/base';
import { loadRecipe, parseRecipe } from './loadRecipe';
import { formatSource, pathKey, sourceAt } from './source';

const testDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '../test');
const fixture = (name: string) => path.join(testDir, 'fixtures', name);
const load = (name: string) => loadRecipe(fixture(name), { displayRoot: testDir });

function errorOf(fn: () => unknown): RxrlConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RxrlConfigError);
    return err as RxrlConfigError;
  }
  throw new Error('expected an RxrlConfigError');
}

describe('loadRecipe', () => {
  it('loads a recipe with the file and line of every key', () => {
    const config = load('base.yaml');
    expect(config.value).toEqual({
      seed: 7,
      policy: { model_name: 'tiny-llama', learning_rate: 1e-5, max_grad_norm: 1 },
      grpo: { num_generations_per_prompt: 4, loss_type: 'token', stop_strings: ['</answer>'] },
    });
    const at = (...keyPath: (string | number)[]) =>
      formatSource(config.sources.get(pathKey(keyPath)));
    expect(at('seed')).toBe('fixtures/base.yaml:1');
    expect(at('policy')).toBe('fixtures/base.yaml:2');
    expect(at('policy', 'max_grad_norm')).toBe('fixtures/base.yaml:5');
    expect(at('grpo', 'loss_type')).toBe('fixtures/base.yaml:8');
    expect(at('grpo', 'stop_strings', 0)).toBe('fixtures/base.yaml:9');
    expect(config.files).toEqual(['fixtures/base.yaml']);
  });

  it('merges defaults under the recipe: child wins, the rest is inherited with its own source', () => {
    const config = load('grpo.yaml');
    expect(config.value).toEqual({
      seed: 7,
      policy: { model_name: 'tiny-llama', learning_rate: 3e-6, max_grad_norm: 1 },
      grpo: { num_generations_per_prompt: 8, loss_type: 'token', stop_strings: ['</answer>'] },
    });
    expect('defaults' in config.value).toBe(false);
    const at = (...keyPath: string[]) => formatSource(sourceAt(config.sources, keyPath));
    expect(at('policy', 'learning_rate')).toBe('fixtures/grpo.yaml:4');
    expect(at('policy', 'model_name')).toBe('fixtures/base.yaml:3');
    expect(at('grpo', 'num_generations_per_prompt')).toBe('fixtures/grpo.yaml:6');
    expect(at('grpo', 'loss_type')).toBe('fixtures/base.yaml:8');
    expect(at('seed')).toBe('fixtures/base.yaml:1');
    expect(config.files).toEqual(['fixtures/grpo.yaml', 'fixtures/base.yaml']);
  });

  it('merges a list of defaults in order, then the recipe', () => {
    const config = load('multi.yaml');
    expect(config.value).toEqual({
      seed: 7,
      policy: { model_name: 'tiny-llama', learning_rate: 1e-5, max_grad_norm: 0.5 },
      grpo: { num_generations_per_prompt: 2, loss_type: 'sequence', stop_strings: ['</answer>'] },
    });
    expect(formatSource(sourceAt(config.sources, ['grpo', 'loss_type']))).toBe(
      'fixtures/extra.yaml:4',
    );
    expect(formatSource(sourceAt(config.sources, ['policy', 'max_grad_norm']))).toBe(
      'fixtures/extra.yaml:2',
    );
  });

  it('resolves defaults relative to the recipe that names them, through a chain', () => {
    const config = load('sub/child.yaml');
    expect(config.value['seed']).toBe(11);
    expect((config.value['policy'] as Record<string, unknown>)['learning_rate']).toBe(3e-6);
    expect(config.files).toEqual([
      'fixtures/sub/child.yaml',
      'fixtures/grpo.yaml',
      'fixtures/base.yaml',
    ]);
  });

  it('a shared ancestor reached twice (diamond) is not a cycle; the later branch wins', () => {
    const config = load('diamond.yaml');
    expect(config.value).toEqual({
      seed: 7,
      policy: { model_name: 'tiny-llama', learning_rate: 1e-5, max_grad_norm: 0.5 },
      grpo: { num_generations_per_prompt: 2, loss_type: 'sequence', stop_strings: ['</answer>'] },
    });
    // multi.yaml re-reads base.yaml, so base's learning_rate overrides grpo.yaml's; the source says so
    expect(formatSource(sourceAt(config.sources, ['policy', 'learning_rate']))).toBe(
      'fixtures/base.yaml:4',
    );
    expect(config.files).toEqual([
      'fixtures/diamond.yaml',
      'fixtures/multi.yaml',
      'fixtures/extra.yaml',
      'fixtures/base.yaml',
      'fixtures/grpo.yaml',
    ]);
  });

  it('an empty file is an empty recipe', () => {
    expect(load('empty.yaml').value).toEqual({});
  });

  it('detects a cycle of defaults and names the chain', () => {
    expect(errorOf(() => load('cycle-a.yaml')).message).toBe(
      'fixtures/cycle-b.yaml:2 defaults: cycle fixtures/cycle-a.yaml -> fixtures/cycle-b.yaml -> fixtures/cycle-a.yaml',
    );
    expect(errorOf(() => load('self-cycle.yaml')).message).toBe(
      'fixtures/self-cycle.yaml:1 defaults: cycle fixtures/self-cycle.yaml -> fixtures/self-cycle.yaml',
    );
  });

  it('a missing default names the file and line that referenced it', () => {
    expect(errorOf(() => load('missing-default.yaml')).message).toBe(
      'fixtures/missing-default.yaml:4 defaults: cannot read fixtures/not-there.yaml (file not found)',
    );
  });

  it('a missing recipe says so', () => {
    expect(errorOf(() => load('nope.yaml')).message).toBe(
      'cannot read recipe fixtures/nope.yaml (file not found)',
    );
  });

  it('rejects a defaults value that is not a path', () => {
    expect(errorOf(() => load('bad-defaults.yaml')).message).toBe(
      'fixtures/bad-defaults.yaml:1 defaults: expected a recipe path or a list of recipe paths, got 12',
    );
  });

  it('reports YAML syntax errors with file and line', () => {
    expect(errorOf(() => load('invalid.yaml')).message).toBe(
      'fixtures/invalid.yaml:3 invalid YAML: Nested mappings are not allowed in compact mappings (column 18)',
    );
    expect(errorOf(() => parseRecipe('a: 1\na: 2\n', 'dup.yaml')).message).toBe(
      'dup.yaml:2 invalid YAML: Map keys must be unique (column 1)',
    );
  });

  it('rejects a recipe that is not a mapping', () => {
    expect(errorOf(() => load('list-root.yaml')).message).toBe(
      'fixtures/list-root.yaml:1 a recipe must be a mapping of sections (policy:, grpo:, ...), got a list',
    );
    expect(errorOf(() => parseRecipe('42\n', 'n.yaml')).message).toBe(
      'n.yaml:1 a recipe must be a mapping of sections (policy:, grpo:, ...), got 42',
    );
  });

  it('shows files outside the display root by absolute path', () => {
    const config = loadRecipe(fixture('base.yaml'), {
      displayRoot: path.join(testDir, 'elsewhere'),
    });
    expect(formatSource(config.sources.get('seed'))).toBe(`${fixture('base.yaml')}:1`);
  });
});
