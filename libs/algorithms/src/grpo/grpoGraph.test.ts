import { describe, expect, it } from 'vitest';
import { parseRecipe } from '@rxrl/config';
import { RxrlConfigError } from '@rxrl/core/base';
import { graphOf } from '@rxrl/pipeline';
import { grpoSections } from './grpoConfig';
import {
  grpoGraphSpec,
  rolloutOptionsOf,
  samplesPerPrompt,
  splitGrpoGraph,
  validateGrpoGraph,
} from './grpoGraph';
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
  it('defaults to generate → math reward → advantages → clipped PG loss → optimizer step with options from the recipe keys', () => {
    const spec = grpoGraphSpec(
      config({ grpo: { normalize_rewards: false, use_leave_one_out_baseline: true } }),
    );
    expect(spec.map((n) => n.stage)).toEqual([
      'rollout.generate',
      'reward.math',
      'grouping.advantages',
      'loss.clipped_pg',
      'optimizer.step',
    ]);
    expect(spec[0]!.options).toMatchObject({ temperature: 0.7, max_new_tokens: 16, seed: 9 });
    expect(spec[2]!.options).toEqual({ scale_rewards: 'none', use_leave_one_out_baseline: true });
    expect(validateGrpoGraph(spec, { registry }).map((n) => n.produces)).toEqual([
      ['group_id', 'completion_tokens', 'completion_text', 'gen_logprobs', 'finish_reason'],
      ['reward'],
      ['advantage'],
      [],
      [],
    ]);
    // the loss trains at the rollout's temperature
    expect(spec[3]!.options).toMatchObject({ temperature: 0.7, micro_batch_size: 8 });
    expect(splitGrpoGraph(spec).update.map((n) => n.stage)).toEqual([
      'loss.clipped_pg',
      'optimizer.step',
    ]);
  });

  it("a graph's own update nodes get the recipe's keys under their options, and are checked where they stand", () => {
    const spec = grpoGraphSpec(
      config({
        loss_fn: { ratio_clip_min: 0.1 },
        graph: [
          { stage: 'rollout.generate', options: { temperature: 0.5 } },
          { stage: 'reward.math' },
          { stage: 'grouping.advantages' },
          { stage: 'loss.clipped_pg', options: { ratio_clip_max: 0.3 } },
          { stage: 'optimizer.step', options: { max_grad_norm: 0.5 } },
        ],
      }),
    );
    const nodes = validateGrpoGraph(spec, { registry });
    expect(nodes.map((n) => n.name)).toEqual([
      'rollout.generate',
      'reward.math',
      'grouping.advantages',
      'loss.clipped_pg',
      'optimizer.step',
    ]);
    expect(nodes[3]!.options).toMatchObject({
      ratio_clip_min: 0.1,
      ratio_clip_max: 0.3,
      temperature: 0.5,
    });
    expect(nodes[4]!.options).toMatchObject({ max_grad_norm: 0.5 });
    // an update node's problem names its index in the whole graph
    expect(() =>
      validateGrpoGraph(
        [
          { stage: 'rollout.generate' },
          { stage: 'reward.math' },
          { stage: 'grouping.advantages' },
          { stage: 'loss.clipped_pg', options: { micro_batch_size: 0 } },
          { stage: 'optimizer.step' },
        ],
        { registry },
      ),
    ).toThrow(/graph\.3\.options\.micro_batch_size/);
    expect(() =>
      validateGrpoGraph(
        [
          { stage: 'rollout.generate' },
          { stage: 'reward.math' },
          { stage: 'grouping.advantages' },
          { stage: 'loss.clipped_pg' },
        ],
        { registry },
      ),
    ).toThrow('a training graph ends with optimizer.step, after its loss node');
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

  it('overlong filtering is a stage of the resolved graph, and rollout.remote gets the sampling keys', () => {
    const spec = grpoGraphSpec(config({ grpo: { overlong_filtering: true } }));
    expect(spec.map((n) => n.stage)).toEqual([
      'rollout.generate',
      'reward.math',
      'grouping.advantages',
      'filter.overlong',
      'loss.clipped_pg',
      'optimizer.step',
    ]);
    expect(validateGrpoGraph(spec, { registry })[3]!.produces).toEqual(['sample_mask']);
    const remote = grpoGraphSpec(
      config({
        graph: [
          { stage: 'rollout.remote', options: { base_url: 'http://h:8000/v1', model: 'm' } },
          { stage: 'reward.math' },
          { stage: 'grouping.advantages' },
        ],
      }),
    );
    expect(rolloutOptionsOf(remote)).toMatchObject({
      temperature: 0.7,
      num_generations_per_prompt: 6,
      seed: 9,
    });
    expect(validateGrpoGraph(remote, { registry })).toHaveLength(5);
  });

  it("checks the samples per step once, against the resolved graph's group size", () => {
    const graph = (n: number) => [
      { stage: 'rollout.generate', options: { num_generations_per_prompt: n } },
      { stage: 'reward.math' },
      { stage: 'grouping.advantages' },
    ];
    const c = config({
      grpo: { num_prompts_per_step: 4 },
      policy: { init: { arch: 'llama' }, train_global_batch_size: 8 },
      graph: graph(4),
    });
    expect(samplesPerPrompt(c)).toBe(4);
    // 4 prompts × the node's 3 samples = 12, which 8 does not divide (the grpo key's 6 × 4 = 24 would pass)
    expect(() =>
      config({
        grpo: { num_prompts_per_step: 4, num_generations_per_prompt: 6 },
        policy: { init: { arch: 'llama' }, train_global_batch_size: 8 },
        graph: graph(3),
      }),
    ).toThrow(
      "policy.train_global_batch_size: must divide grpo.num_prompts_per_step × the graph's rollout num_generations_per_prompt = 4 × 3 = 12 samples per step",
    );
    expect(() =>
      config({
        grpo: { num_prompts_per_step: 4 },
        policy: { init: { arch: 'llama' }, train_global_batch_size: 4, train_micro_batch_size: 4 },
        graph: graph(1),
      }),
    ).toThrow(
      'graph.0.options.num_generations_per_prompt: must be at least 2 in a GRPO graph (a group of one has no baseline: every advantage is 0), got 1',
    );
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

  describe("the guides' grouping keys (grpo.group_strategy, grpo.grouping)", () => {
    it('semantic: a grouping.form_groups stage before the advantages, similarity_threshold and group_size in its options', () => {
      const c = config({
        grpo: {
          num_generations_per_prompt: 4,
          group_strategy: 'semantic',
          grouping: {
            similarity_threshold: 0.8,
            group_size: 8,
            min_group_size: 2,
            max_group_size: 8,
          },
        },
      });
      const spec = grpoGraphSpec(c);
      expect(spec.map((n) => n.stage)).toEqual([
        'rollout.generate',
        'reward.math',
        'grouping.form_groups',
        'grouping.advantages',
        'loss.clipped_pg',
        'optimizer.step',
      ]);
      expect(spec[2]!.options).toEqual({
        seed: 9,
        total_steps: 100,
        strategy: 'semantic',
        options: { similarity_threshold: 0.8, group_size: 8 },
        min_group_size: 2,
        max_group_size: 8,
        replace_group_id: true,
      });
      expect(validateGrpoGraph(spec, { registry })[2]!.produces).toEqual(['group_id']);
    });

    it("adaptive: the guides' schedule by default, the threshold in its semantic phase only", () => {
      const c = config({
        grpo: {
          group_strategy: 'adaptive',
          grouping: { similarity_threshold: 0.9, group_size: 6 },
        },
      });
      expect((grpoGraphSpec(c)[2]!.options as { options: unknown }).options).toEqual({
        schedule: [
          { until: 0.3, strategy: 'random', options: { group_size: 6 } },
          { until: 0.7, strategy: 'performance', options: { group_size: 6 } },
          { strategy: 'semantic', options: { similarity_threshold: 0.9, group_size: 6 } },
        ],
      });
      // a phase's own options win
      const own = config({
        grpo: {
          group_strategy: 'adaptive',
          grouping: {
            similarity_threshold: 0.9,
            options: {
              schedule: [
                { until: 0.5, strategy: 'by_prompt' },
                { strategy: 'semantic', options: { similarity_threshold: 0.5 } },
              ],
            },
          },
        },
      });
      expect((grpoGraphSpec(own)[2]!.options as { options: unknown }).options).toEqual({
        schedule: [
          { until: 0.5, strategy: 'by_prompt', options: {} },
          { strategy: 'semantic', options: { similarity_threshold: 0.5 } },
        ],
      });
    });

    it('by_prompt (the default) adds no stage; a threshold without a semantic step, or a bad strategy, fails at its key', () => {
      expect(grpoGraphSpec(config()).map((n) => n.stage)).not.toContain('grouping.form_groups');
      expect(() => config({ grpo: { grouping: { similarity_threshold: 0.8 } } })).toThrow(
        /grpo\.grouping\.similarity_threshold: applies to semantic grouping: set grpo\.group_strategy: semantic/,
      );
      expect(() =>
        config({ grpo: { group_strategy: 'random', grouping: { similarity_threshold: 0.8 } } }),
      ).toThrow(
        /similarity_threshold: applies to semantic grouping, and grpo\.group_strategy random has no semantic step/,
      );
      expect(() => config({ grpo: { group_strategy: 'semantik' } })).toThrow(
        /grpo\.group_strategy: unknown grouping strategy 'semantik'\. Did you mean 'semantic'\?/,
      );
      expect(() =>
        config({ grpo: { group_strategy: 'semantic', grouping: { options: { max_iters: 3 } } } }),
      ).toThrow(/grpo\.group_strategy: grouping strategy 'semantic': options: .*max_iters/);
    });

    it('a size bound alone groups by prompt within the bounds', () => {
      const spec = grpoGraphSpec(config({ grpo: { grouping: { max_group_size: 3 } } }));
      expect(spec[2]).toEqual({
        stage: 'grouping.form_groups',
        options: {
          seed: 9,
          total_steps: 100,
          strategy: 'by_prompt',
          options: {},
          min_group_size: 1,
          max_group_size: 3,
          replace_group_id: true,
        },
      });
    });
  });
});
