import { z } from 'zod';
import { COLUMNS, defineStage, type StageContext, type StageDefinition } from '@rxrl/core/base';
import { compositeOptions } from './compositeReward';
import { pairRewardStageDefinition } from './pairReward';
import { rewardStage, rewardStageShape, type RewardStageHooks } from './rewardStage';
import {
  NEEDS_ANSWER,
  owning,
  rewardFunctions,
  type RewardFunctionEntry,
  type RewardFunctionName,
} from './rewardFunctions';

export { rewardFunctions, type RewardFunctionName } from './rewardFunctions';

/** Per-batch reward metrics (`reward/mean`, `reward/nulls`, ...) go to the graph's context. */
const hooksOf = (context: StageContext): RewardStageHooks => ({
  onMetrics: (m) => context.emit({ ...m }),
});

/** `reward` plus `reward/<name>` when the stage is named, and `reward/<component>` per component. */
function rewardColumns(o: { name?: string | undefined; components?: { name: string }[] }) {
  return [
    COLUMNS.reward,
    ...(o.name ? [`${COLUMNS.reward}/${o.name}`] : []),
    ...(o.components ?? []).map((c) => `${COLUMNS.reward}/${c.name}`),
  ];
}

const stageKeys = Object.keys(rewardStageShape) as (keyof typeof rewardStageShape)[];

function split(o: Record<string, unknown>) {
  const fn: Record<string, unknown> = {};
  const stage: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) ((stageKeys as string[]).includes(k) ? stage : fn)[k] = v;
  return { fn, stage };
}

function single<K extends RewardFunctionName>(key: K) {
  const entry = rewardFunctions[key] as RewardFunctionEntry;
  const shape = (rewardFunctions[key].schema as (typeof rewardFunctions)[K]['schema']).shape;
  const schema = z.strictObject({
    ...(shape as (typeof rewardFunctions)[K]['schema']['shape']),
    ...rewardStageShape,
  });
  return defineStage({
    name: `reward.${key}`,
    description: `reward function '${key}' of @rxrl/reward; writes the total as 'reward'`,
    schema,
    requires: NEEDS_ANSWER.has(key)
      ? [COLUMNS.completionText, COLUMNS.answer]
      : [COLUMNS.completionText],
    produces: (o) => rewardColumns(o as { name?: string }),
    create(options, context) {
      const { fn, stage } = split(options as Record<string, unknown>);
      const made = entry.create(fn);
      return owning(rewardStage(made, stage, hooksOf(context)), [made]);
    },
  });
}

/** A composite component in YAML: `{ name, type, weight, options }`. */
const componentSchema = z.strictObject({
  /** Column suffix: the component is written as `reward/<name>`. */
  name: z.string().regex(/^[\w.-]+$/, 'letters, digits, _ . -'),
  /** Which reward function (`math`, `format`, `length`, ...). */
  type: z.enum(Object.keys(rewardFunctions) as [RewardFunctionName, ...RewardFunctionName[]]),
  /** Weight of this component in the total. */
  weight: z.number().default(1),
  /** Options of that reward function. */
  options: z.record(z.string(), z.unknown()).default({}),
});

const compositeStageSchema = z.strictObject({
  /** The weighted components; the total is written as `reward`. */
  components: z.array(componentSchema).min(1),
  ...compositeOptions.shape,
  ...rewardStageShape,
});

/**
 * Reward stages by dotted name, each a stage definition with its zod schema (function options plus
 * `max_concurrency`, `on_error`, `name`). `reward.composite` takes typed components, so a
 * recipe can write `{ components: [{ name: math, type: math }, { name: format, type: format, weight: 0.1 }] }`.
 */
export const rewardStages = {
  'reward.math': single('math'),
  'reward.exact_match': single('exact_match'),
  'reward.regex_match': single('regex_match'),
  'reward.format': single('format'),
  'reward.length': single('length'),
  'reward.js': single('js'),
  'reward.worker': single('worker'),
  'reward.remote': single('remote'),
  'reward.pair': pairRewardStageDefinition,
  'reward.composite': defineStage({
    name: 'reward.composite',
    description:
      "weighted sum of reward functions; each written as 'reward/<name>', the total as 'reward'",
    schema: compositeStageSchema,
    requires: [COLUMNS.completionText],
    produces: rewardColumns,
    create(o, context) {
      const components = o.components.map((c, i) => {
        const entry = rewardFunctions[c.type] as RewardFunctionEntry;
        const parsed = entry.schema.safeParse(c.options);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          const where = ['components', i, 'options', ...issue.path].join('.');
          throw new z.ZodError([
            {
              ...issue,
              path: ['components', i, 'options', ...issue.path],
              message: `${where}: ${issue.message}`,
            },
          ]);
        }
        return { name: c.name, weight: c.weight, fn: entry.create(parsed.data) };
      });
      const { components: _c, ...rest } = o;
      return owning(
        rewardStage(components, rest, hooksOf(context)),
        components.map((c) => c.fn),
      );
    },
  }),
};
export type RewardStageName = keyof typeof rewardStages;

/** The reward stages as definitions for a stage registry. */
export function rewardStageDefinitions(): StageDefinition[] {
  return Object.values(rewardStages);
}
