import { describe, expect, it } from 'vitest';
import { firstValueFrom, from, toArray } from 'rxjs';
import { z } from 'zod';
import {
  defineStage,
  emptyContext,
  makeRecordBatch,
  readFloat32Column,
  RxrlConfigError,
} from '@rxrl/core/base';
import { parseRecipe } from '@rxrl/config';
import { advantagesStage, groupingStageDefinitions } from '@rxrl/grouping';
import { rewardStageDefinitions, rewardStages } from '@rxrl/reward';
import { buildGraph, graphOf, pipe, validateGraph } from './graph';
import { StageRegistry } from './stageRegistry';

/** A registry built explicitly from the definitions the stage libraries export. */
const registry = new StageRegistry([...rewardStageDefinitions(), ...groupingStageDefinitions()]);

function batch() {
  return makeRecordBatch({
    prompt_id: new Int32Array([0, 0, 1, 1]),
    group_id: new Int32Array([0, 0, 1, 1]),
    completion_text: ['the answer is 4', '5', '\\boxed{7}', 'seven'],
    answer: ['4', '4', '7', '7'],
  });
}

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RxrlConfigError);
    return (err as Error).message;
  }
  throw new Error('expected an error');
}

describe('stage registry', () => {
  it('holds what it was built from, and nothing registers itself on import', () => {
    expect(registry.has('reward.math')).toBe(true);
    expect(registry.has('reward.composite')).toBe(true);
    expect(registry.get('grouping.advantages')).toBe(advantagesStage);
    expect(new StageRegistry().names()).toEqual([]);
  });

  it('suggests the closest name for an unknown stage', () => {
    expect(message(() => registry.get('reward.mth'))).toBe(
      "unknown stage 'reward.mth'; did you mean 'reward.math'?",
    );
  });

  it('refuses bad names and silent replacement', () => {
    const registry = new StageRegistry();
    const def = defineStage({
      name: 'grouping.mine',
      description: 'test',
      schema: z.strictObject({}),
      requires: [],
      produces: [],
      create: () => (s) => s,
    });
    registry.register(def);
    expect(message(() => registry.register(def))).toBe(
      "stage 'grouping.mine' is already registered; pass { replace: true } to replace it",
    );
    registry.register(def, { replace: true });
    expect(message(() => registry.register({ ...def, name: 'Mine' }))).toBe(
      "stage name 'Mine' must be dotted lower_snake_case, e.g. 'grouping.my_strategy'",
    );
  });
});

describe('validateGraph', () => {
  it('reports unknown stages, bad options and missing columns together, with file:line', () => {
    const loaded = parseRecipe(
      [
        'graph:',
        '  - stage: grouping.advantages',
        '  - stage: reward.mathh',
        '  - stage: reward.math',
        '    options:',
        '      max_concurrency: -1',
        '      abs_toll: 0.1',
      ].join('\n'),
      'recipe.yaml',
    );
    const msg = message(() =>
      validateGraph(graphOf(loaded)!, {
        sourceColumns: ['prompt_id', 'group_id', 'completion_text'],
        loaded,
        registry,
      }),
    );
    expect(msg).toBe(
      [
        '5 configuration errors:',
        '  recipe.yaml:2 graph.0.stage: requires column \'reward\', which neither the source nor an earlier stage produces, got "grouping.advantages"; add a stage that produces it earlier (reward.exact_match, reward.format, reward.math)',
        '  recipe.yaml:3 graph.1.stage: unknown stage, got "reward.mathh"; did you mean \'reward.math\'?',
        '  recipe.yaml:7 graph.2.options.abs_toll: unknown key, got 0.1; did you mean `abs_tol`?',
        '  recipe.yaml:6 graph.2.options.max_concurrency: expected an integer > 0, got -1',
        '  recipe.yaml:4 graph.2.stage: requires column \'answer\', which neither the source nor an earlier stage produces, got "reward.math"',
      ].join('\n'),
    );
  });

  it('accepts a graph whose columns flow from source to stage', () => {
    const nodes = validateGraph(
      [
        { stage: 'reward.math' },
        { stage: 'grouping.advantages', options: { use_leave_one_out_baseline: true } },
      ],
      { sourceColumns: ['group_id', 'completion_text', 'answer'], registry },
    );
    expect(nodes.map((n) => [n.name, n.requires, n.produces])).toEqual([
      ['reward.math', ['completion_text', 'answer'], ['reward']],
      ['grouping.advantages', ['reward', 'group_id'], ['advantage']],
    ]);
  });
});

describe('graphs built in code and from YAML', () => {
  it('produce the same columns', async () => {
    const code = pipe(
      rewardStages['reward.math'].create(
        rewardStages['reward.math'].schema.parse({}),
        emptyContext(),
      ),
      advantagesStage.create(
        advantagesStage.schema.parse({ scale_rewards: 'none' }),
        emptyContext(),
      ),
    );
    const loaded = parseRecipe(
      [
        'graph:',
        '  - stage: reward.math',
        '  - stage: grouping.advantages',
        '    options: { scale_rewards: none }',
      ].join('\n'),
      'g.yaml',
    );
    const yaml = buildGraph(graphOf(loaded)!, emptyContext(), {
      sourceColumns: batch().schema.fields.map((f) => f.name),
      registry,
    });
    const [a] = await firstValueFrom(from([batch()]).pipe(code, toArray()));
    const [b] = await firstValueFrom(from([batch()]).pipe(yaml, toArray()));
    // rewards 1,0 | 1,0: group means 0.5, so advantages +-0.5 unscaled
    expect(Array.from(readFloat32Column(a!, 'reward'))).toEqual([1, 0, 1, 0]);
    expect(Array.from(readFloat32Column(a!, 'advantage'))).toEqual([0.5, -0.5, 0.5, -0.5]);
    expect(Array.from(readFloat32Column(b!, 'advantage'))).toEqual(
      Array.from(readFloat32Column(a!, 'advantage')),
    );
    expect(b!.schema.fields.map((f) => f.name)).toEqual(a!.schema.fields.map((f) => f.name));
  });
});
