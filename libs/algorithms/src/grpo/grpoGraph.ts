import { ConfigValidationError, type LoadedConfig } from '@rxrl/config';
import { COLUMNS } from '@rxrl/core/base';
import {
  validateGraph,
  type GraphSpec,
  type StageRegistry,
  type ValidatedNode,
} from '@rxrl/pipeline';
import type { GrpoConfig } from './grpoConfig';

/** Columns of the prompt batches entering a GRPO graph. */
export const GRPO_SOURCE_COLUMNS = [
  COLUMNS.promptId,
  COLUMNS.promptTokens,
  COLUMNS.promptText,
  COLUMNS.answer,
];
/** Columns the policy update reads from the graph's output. */
export const GRPO_TRAIN_COLUMNS = [
  COLUMNS.promptTokens,
  COLUMNS.completionTokens,
  COLUMNS.genLogprobs,
  COLUMNS.reward,
  COLUMNS.advantage,
];

/** Options the recipe's keys give each built-in stage; a graph node's own options win. */
function keyDefaults(config: GrpoConfig): Record<string, Record<string, unknown>> {
  return {
    'rollout.generate': {
      ...config.policy.generation,
      num_generations_per_prompt: config.grpo.num_generations_per_prompt,
      seed: config.seed,
    },
    'reward.math': { ...config.env.math },
    'grouping.advantages': {
      scale_rewards: config.grpo.normalize_rewards ? 'group' : 'none',
      use_leave_one_out_baseline: config.grpo.use_leave_one_out_baseline,
    },
    'grouping.form_groups': { seed: config.seed, total_steps: config.grpo.max_num_steps },
  };
}

/**
 * The per-step graph of a GRPO recipe: its `graph:` section, or by default
 * `rollout.generate → reward.math → grouping.advantages`; each built-in node
 * gets its options from the recipe's keys (`policy.generation`,
 * `grpo.num_generations_per_prompt`, `env.math`, `grpo.normalize_rewards`,
 * `grpo.use_leave_one_out_baseline`, `seed`) under the node's own options.
 */
export function grpoGraphSpec(config: GrpoConfig): GraphSpec {
  const defaults = keyDefaults(config);
  const spec: GraphSpec = config.graph ?? [
    { stage: 'rollout.generate' },
    { stage: 'reward.math' },
    { stage: 'grouping.advantages' },
  ];
  return spec.map((node) => ({
    stage: node.stage,
    options: { ...(defaults[node.stage] ?? {}), ...('options' in node ? node.options : {}) },
  }));
}

/** Validates a GRPO graph, including that its output has what the policy update reads. */
export function validateGrpoGraph(
  spec: GraphSpec,
  options: { registry: StageRegistry; loaded?: LoadedConfig },
): ValidatedNode[] {
  const nodes = validateGraph(spec, { ...options, sourceColumns: GRPO_SOURCE_COLUMNS });
  const out = new Set([...GRPO_SOURCE_COLUMNS, ...nodes.flatMap((n) => n.produces)]);
  const missing = GRPO_TRAIN_COLUMNS.filter((c) => !out.has(c));
  if (missing.length > 0) {
    throw new ConfigValidationError([
      {
        keyPath: ['graph'],
        source: undefined,
        problem: `the graph's output lacks ${missing.map((c) => `'${c}'`).join(', ')}, which the GRPO policy update reads`,
        present: true,
        value: nodes.map((n) => n.name),
      },
    ]);
  }
  return nodes;
}
