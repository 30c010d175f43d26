import { ConfigValidationError, type LoadedConfig } from '@rxrl/config';
import { COLUMNS } from '@rxrl/core/base';
import {
  validateGraph,
  type GraphSpec,
  type StageRegistry,
  type ValidatedNode,
} from '@rxrl/pipeline';
import { GUIDE_ADAPTIVE_SCHEDULE, getGroupingStrategy, groupingStageOptions } from '@rxrl/grouping';
import { generateOptionsSchema, remoteOptionsSchema } from '@rxrl/rollout';
import { validateStepGraph, withKeyDefaults, type KeyDefaults } from '../shared/stepGraph';
import { GRPO_UPDATE_COLUMNS, grpoUpdateSpec } from './clippedPgLossStage';
import type { GrpoConfig } from './grpoConfig';

/** The stages that generate rollouts; a GRPO graph has one. */
const ROLLOUT_STAGES: Record<string, typeof generateOptionsSchema | typeof remoteOptionsSchema> = {
  'rollout.generate': generateOptionsSchema,
  'rollout.remote': remoteOptionsSchema,
};

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
function keyDefaults(config: GrpoConfig): KeyDefaults {
  const g = config.policy.generation;
  return {
    'rollout.generate': {
      ...g,
      num_generations_per_prompt: config.grpo.num_generations_per_prompt,
      seed: config.seed,
    },
    // the sampling keys a server takes too (the local engine's batch size is not one of them)
    'rollout.remote': {
      temperature: g.temperature,
      top_p: g.top_p,
      top_k: g.top_k,
      max_new_tokens: g.max_new_tokens,
      num_generations_per_prompt: config.grpo.num_generations_per_prompt,
      seed: config.seed,
    },
    'reward.math': { ...config.env.math },
    'grouping.advantages': {
      scale_rewards: config.grpo.normalize_rewards ? 'group' : 'none',
      use_leave_one_out_baseline: config.grpo.use_leave_one_out_baseline,
    },
    'grouping.form_groups': {
      seed: config.seed,
      total_steps: config.grpo.max_num_steps,
      ...(groupsFromKeys(config) ? formGroupsOptionsOf(config) : {}),
    },
    'filter.dynamic_sampling': {
      target_groups: config.grpo.num_prompts_per_step,
      max_gen_batches: config.grpo.dynamic_sampling_max_gen_batches,
    },
  };
}

/** Whether the recipe's grouping keys ask for a `grouping.form_groups` stage (anything but plain by-prompt groups). */
export function groupsFromKeys(config: GrpoConfig): boolean {
  const { group_strategy, grouping } = config.grpo;
  return (
    group_strategy !== 'by_prompt' ||
    grouping.min_group_size > 1 ||
    grouping.max_group_size !== null
  );
}

/** Whether a registered strategy's options take `group_size`. */
function takesGroupSize(strategy: string): boolean {
  try {
    const schema = getGroupingStrategy(strategy).schema as { shape?: Record<string, unknown> };
    return schema.shape !== undefined && 'group_size' in schema.shape;
  } catch {
    return false; // an unknown name is reported where the options are checked
  }
}

type Phase = { until?: number; strategy: string; options?: Record<string, unknown> };

/**
 * The `grouping.form_groups` options the recipe's keys give: `grpo.group_strategy`
 * with `grpo.grouping.options`, the guides' `similarity_threshold` put in the semantic
 * strategy's options (each semantic phase of an adaptive schedule without its own),
 * `group_size` in those of strategies that cut groups, the size bounds, and
 * `replace_group_id` (the grouping supersedes the rollout's by-prompt groups).
 */
export function formGroupsOptionsOf(config: GrpoConfig): Record<string, unknown> {
  const g = config.grpo.grouping;
  const strategy = config.grpo.group_strategy;
  const withKeys = (name: string, own: Record<string, unknown>) => ({
    ...(name === 'semantic' && g.similarity_threshold !== null
      ? { similarity_threshold: g.similarity_threshold }
      : {}),
    ...(g.group_size !== null && takesGroupSize(name) ? { group_size: g.group_size } : {}),
    ...own,
  });
  const options =
    strategy === 'adaptive'
      ? {
          ...g.options,
          schedule: (
            (g.options['schedule'] as Phase[] | undefined) ??
            (GUIDE_ADAPTIVE_SCHEDULE as readonly Phase[])
          ).map((p) => ({ ...p, options: withKeys(p.strategy, p.options ?? {}) })),
        }
      : withKeys(strategy, g.options);
  return {
    strategy,
    options,
    min_group_size: g.min_group_size,
    ...(g.max_group_size !== null ? { max_group_size: g.max_group_size } : {}),
    replace_group_id: true,
  };
}

/** The strategies a grouping node runs: its own, or each phase of an adaptive schedule. */
function strategiesOf(options: Record<string, unknown>): string[] {
  const strategy = String(options['strategy'] ?? 'by_prompt');
  if (strategy !== 'adaptive') return [strategy];
  const schedule = (options['options'] as { schedule?: Phase[] } | undefined)?.schedule;
  return (schedule ?? [...GUIDE_ADAPTIVE_SCHEDULE]).map((p) => p.strategy);
}

/**
 * Problems with the recipe's grouping keys, at their key paths: the strategy and its
 * options as the `grouping.form_groups` stage will parse them, and a
 * `similarity_threshold` that no semantic strategy or phase reads.
 */
export function groupingIssues(
  config: GrpoConfig,
): { path: (string | number)[]; message: string }[] {
  if (!groupsFromKeys(config)) {
    return config.grpo.grouping.similarity_threshold !== null
      ? [
          {
            path: ['grpo', 'grouping', 'similarity_threshold'],
            message:
              "applies to semantic grouping: set grpo.group_strategy: semantic (or adaptive, whose default schedule ends semantic); by_prompt groups each prompt's generations",
          },
        ]
      : [];
  }
  const options = formGroupsOptionsOf(config);
  const parsed = groupingStageOptions.safeParse({ ...options, total_steps: 1 });
  if (!parsed.success)
    return parsed.error.issues.map((i) => ({
      path:
        i.path[0] === 'strategy'
          ? ['grpo', 'group_strategy']
          : ['grpo', 'grouping', ...i.path.map((p) => (typeof p === 'symbol' ? String(p) : p))],
      message: i.message,
    }));
  if (
    config.grpo.grouping.similarity_threshold !== null &&
    !strategiesOf(options).includes('semantic')
  )
    return [
      {
        path: ['grpo', 'grouping', 'similarity_threshold'],
        message: `applies to semantic grouping, and grpo.group_strategy ${config.grpo.group_strategy} has no semantic step`,
      },
    ];
  return [];
}

/**
 * The resolved graph of a GRPO recipe, one list from prompts to the optimizer: `spec`
 * (default its `graph:` section, else `rollout.generate → reward.math →
 * grouping.advantages`), each built-in node given its options from the recipe's keys
 * (`policy.generation`, `grpo.num_generations_per_prompt`, `env.math`,
 * `grpo.normalize_rewards`, `grpo.use_leave_one_out_baseline`, `grpo.group_strategy` /
 * `grpo.grouping`, `seed`) under the node's own options, `grouping.form_groups`
 * inserted before `grouping.advantages` when `grpo.group_strategy` (or a size bound)
 * asks for it, `filter.overlong` / `filter.dynamic_sampling` added after the rollout
 * stages when `grpo.overlong_filtering` / `grpo.use_dynamic_sampling` is on and the
 * graph has none; then the policy update, `loss.clipped_pg` (the `loss_fn` section,
 * `policy.train_micro_batch_size`, the rollout's temperature) → `optimizer.step`
 * (`policy.optimizer`, `policy.scheduler`, `policy.max_grad_norm`,
 * `logger.grad_norm_per_layer_every`), the graph's own update nodes given the same keys
 * under their options, else appended. This is the one source of the stages' options:
 * the trainer reads the rollout's temperature and group size from it, the run builds
 * its optimizer from it, and cross-checks run on it.
 */
export function grpoGraphSpec(
  config: GrpoConfig,
  spec: GraphSpec | null = config.graph,
): GraphSpec {
  const defaults = keyDefaults(config);
  const parts = splitGrpoGraph(
    spec ?? [
      { stage: 'rollout.generate' },
      { stage: 'reward.math' },
      { stage: 'grouping.advantages' },
    ],
  );
  const resolved = withKeyDefaults(parts.rollout, defaults);
  const append = (stage: string) => {
    if (!resolved.some((n) => n.stage === stage))
      resolved.push({ stage, options: { ...(defaults[stage] ?? {}) } });
  };
  // grpo.group_strategy / grpo.grouping: a grouping stage right before the advantages
  if (groupsFromKeys(config) && !resolved.some((n) => n.stage === 'grouping.form_groups')) {
    const at = resolved.findIndex((n) => n.stage === 'grouping.advantages');
    const node = {
      stage: 'grouping.form_groups',
      options: { ...defaults['grouping.form_groups']! },
    };
    if (at < 0) resolved.push(node);
    else resolved.splice(at, 0, node);
  }
  if (config.grpo.overlong_filtering) append('filter.overlong');
  if (config.grpo.use_dynamic_sampling) append('filter.dynamic_sampling');
  // the update's keys, at the temperature the rollout samples at
  const updateKeys = grpoUpdateSpec(config, grpoTrainTemperature(config, resolved));
  const update =
    parts.update.length > 0
      ? withKeyDefaults(
          parts.update,
          Object.fromEntries(
            updateKeys.map((n) => [n.stage, 'options' in n ? (n.options ?? {}) : {}]),
          ),
        )
      : updateKeys;
  return [...resolved, ...update];
}

/**
 * A GRPO graph cut where the policy update starts: the stages a prompt batch goes
 * through (`rollout`: generation, reward, advantages, filters) and, from its first
 * `loss.*` node on, the stages each optimizer batch of the step's samples goes
 * through (`update`: the loss, `optimizer.step`); `update` is empty for a graph
 * without a loss node (a recipe's `graph:` may leave it to the keys).
 */
export function splitGrpoGraph(spec: GraphSpec): { rollout: GraphSpec; update: GraphSpec } {
  const at = spec.findIndex((n) => n.stage.startsWith('loss.'));
  return at < 0
    ? { rollout: [...spec], update: [] }
    : { rollout: spec.slice(0, at), update: spec.slice(at) };
}

/**
 * The rollout node's options as its stage will see them (parsed, defaults
 * filled), or null for a graph without a rollout stage or with options the
 * stage's schema rejects (graph validation reports those).
 */
export function rolloutOptionsOf(
  spec: GraphSpec,
): { num_generations_per_prompt: number; temperature: number } | null {
  const node = spec.find((n) => n.stage in ROLLOUT_STAGES);
  if (!node) return null;
  const parsed = ROLLOUT_STAGES[node.stage]!.safeParse('options' in node ? node.options : {});
  return parsed.success ? parsed.data : null;
}

/**
 * The temperature the policy trains at: the resolved graph's rollout temperature (a
 * graph built in code, `spec` null: `policy.generation.temperature`), so log-probs are
 * of the sampler's softmax(logits / T); greedy rollouts (T = 0) train at T = 1.
 */
export function grpoTrainTemperature(config: GrpoConfig, spec: GraphSpec | null): number {
  const t = (spec && rolloutOptionsOf(spec)?.temperature) ?? config.policy.generation.temperature;
  return t > 0 ? t : 1;
}

/** Completions per prompt as the resolved graph generates them (its rollout node wins over `grpo.num_generations_per_prompt`). */
export function samplesPerPrompt(config: GrpoConfig): number {
  return (
    rolloutOptionsOf(grpoGraphSpec(config))?.num_generations_per_prompt ??
    config.grpo.num_generations_per_prompt
  );
}

/**
 * Validates a GRPO graph: its rollout stages from the prompt columns, including that
 * their output has what the policy update reads, then its update stages
 * (`validateStepGraph`: one `loss.*` node, `optimizer.step` last) from the columns of
 * the optimizer batches the step's samples are cut into.
 */
export function validateGrpoGraph(
  spec: GraphSpec,
  options: { registry: StageRegistry; loaded?: LoadedConfig },
): ValidatedNode[] {
  const parts = splitGrpoGraph(spec);
  const nodes = validateGraph(parts.rollout, { ...options, sourceColumns: GRPO_SOURCE_COLUMNS });
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
  if (parts.update.length === 0) return nodes;
  return [
    ...nodes,
    ...validateStepGraph(parts.update, {
      ...options,
      sourceColumns: GRPO_UPDATE_COLUMNS,
      firstIndex: parts.rollout.length,
    }),
  ];
}

/**
 * The validation graph of a GRPO recipe: the resolved training graph's rollout
 * node sampling once per prompt at `grpo.val_temperature` with the recipe's seed,
 * then the training graph's reward nodes — the reward the recipe names, not a fixed
 * verifier. A training graph built in code validates with the default nodes.
 */
export function grpoValidationSpec(config: GrpoConfig, trainSpec: GraphSpec | null): GraphSpec {
  const spec = trainSpec ?? grpoGraphSpec(config, null);
  const rollout = spec.find((n) => n.stage in ROLLOUT_STAGES);
  const rewards = spec.filter((n) => n.stage.startsWith('reward.'));
  const options = (node: GraphSpec[number] | undefined) =>
    node && 'options' in node ? node.options : {};
  return [
    {
      stage: rollout?.stage ?? 'rollout.generate',
      options: {
        ...options(rollout),
        temperature: config.grpo.val_temperature,
        num_generations_per_prompt: 1,
        seed: config.seed,
      },
    },
    ...rewards.map((n) => ({ stage: n.stage, options: options(n) })),
  ];
}

export { correctRewardOf } from '../shared/verifierColumn';
