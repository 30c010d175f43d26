import { describe, expect, it } from 'vitest';
import { parseRecipe } from '@rxrl/config';
import { RxrlConfigError } from '@rxrl/core/base';
import { graphOf } from '@rxrl/pipeline';
import { grpoSections } from './grpoConfig';
import { grpoGraphSpec, validateGrpoGraph } from './grpoGraph';
import { builtinStageRegistry } from '../builtinStages';

const registry = builtinStageRegistry();

const config = (extra: Record<string, unknown> = {}) =>
  grpoSections.validate({
    seed: 9,
    policy: { init: { arch: 'llama' }, generation: { temperature: 0.7 } },
    grpo: { num_generations_per_prompt: 6 },
    ...extra,
  });

describe('GRPO graph', () => {
  it('defaults to generate → math reward → advantages with options from the recipe keys', () => {
    const spec = grpoGraphSpec(
      config({ grpo: { normalize_rewards: false, use_leave_one_out_baseline: true } }),
    );
    expect(spec.map((n) => n.stage)).toEqual([
      'rollout.generate',
      'reward.math',
      'grouping.advantages',
    ]);
    expect(spec[0]!.options).toMatchObject({ temperature: 0.7, max_new_tokens: 16, seed: 9 });
    expect(spec[2]!.options).toEqual({ scale_rewards: 'none', use_leave_one_out_baseline: true });
    expect(validateGrpoGraph(spec, { registry }).map((n) => n.produces)).toEqual([
      ['group_id', 'completion_tokens', 'completion_text', 'gen_logprobs', 'finish_reason'],
      ['reward'],
      ['advantage'],
    ]);
  });

  it("a graph node's own options win over the recipe keys", () => {
    const spec = grpoGraphSpec(
      config({
        graph: [
          { stage: 'rollout.generate', options: { temperature: 1.3 } },
          { stage: 'reward.math' },
          { stage: 'grouping.advantages' },
        ],
      }),
    );
    expect(spec[0]!.options).toMatchObject({ temperature: 1.3, num_generations_per_prompt: 6 });
  });

  it('reports a graph whose output lacks what the update reads, and bad node options with file:line', () => {
    const bad = () =>
      validateGrpoGraph([{ stage: 'rollout.generate' }, { stage: 'reward.math' }], { registry });
    expect(bad).toThrow(RxrlConfigError);
    expect(bad).toThrow(
      `graph: the graph's output lacks 'advantage', which the GRPO policy update reads, got ["rollout.generate","reward.math"]`,
    );
    const loaded = parseRecipe(
      [
        'graph:',
        '  - stage: rollout.generate',
        '    options: { temperature: -1 }',
        '  - stage: grouping.advantages',
      ].join('\n'),
      'g.yaml',
    );
    expect(() => validateGrpoGraph(graphOf(loaded)!, { loaded, registry })).toThrow(
      [
        '2 configuration errors:',
        '  g.yaml:3 graph.0.options.temperature: expected a number >= 0, got -1',
        '  g.yaml:4 graph.1.stage: requires column \'reward\', which neither the source nor an earlier stage produces, got "grouping.advantages"; add a stage that produces it earlier (reward.exact_match, reward.format, reward.math)',
      ].join('\n'),
    );
  });
});
