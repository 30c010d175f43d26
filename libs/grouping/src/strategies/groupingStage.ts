import { concatMap, from } from 'rxjs';
import { Field, RecordBatch, Schema, Struct, makeData, makeVector } from 'apache-arrow';
import { z } from 'zod';
import {
  COLUMNS,
  Rng,
  RxrlConfigError,
  RxrlDataError,
  addColumns,
  batchMeta,
  readInt32Column,
  readListColumn,
  type MetricEvent,
  type Stage,
} from '@rxrl/core/base';
import { readRewardColumn } from '../advantages/advantageColumns';
import './builtinStrategies';
import { groupQualityMetrics } from './groupQualityMetrics';
import type { Embedder, GroupingInput } from './groupingInput';
import { formGroups, getGroupingStrategy, parseStrategyOptions } from './strategyRegistry';

/** Name of the optional embeddings column (List<Float32>, one row per sample). */
export const EMBEDDING_COLUMN = 'embedding';

export const groupingStageOptions = z
  .strictObject({
    /** Registered strategy: `by_prompt` (default), `random`, `performance`, `semantic`, `multi_criteria`, `adaptive`, or your own. */
    strategy: z.string().default('by_prompt'),
    /** Options of that strategy, validated by its schema. */
    options: z.record(z.string(), z.unknown()).default({}),
    /** Smallest group; undersized groups are merged (1: no lower bound). */
    min_group_size: z.int().min(1).default(1),
    /** Largest group; oversized groups are split (no limit when omitted). */
    max_group_size: z.int().min(1).optional(),
    /** Overwrite a `group_id` column the batch already has (rollout writes one); otherwise that is an error. */
    replace_group_id: z.boolean().default(false),
    /** Seed of the strategy's randomness; batch `step` draws from `Rng(seed).fork('step:<step>')`. */
    seed: z.int().default(42),
    /** Total training steps (`grpo.max_num_steps`), for progress-driven strategies such as `adaptive`. */
    total_steps: z.int().min(1).optional(),
  })
  .superRefine((o, ctx) => {
    if (o.max_group_size !== undefined && o.max_group_size < o.min_group_size) {
      ctx.addIssue({
        code: 'custom',
        path: ['max_group_size'],
        message: `must be >= min_group_size (${o.min_group_size})`,
      });
    }
    if (o.strategy === 'adaptive' && o.total_steps === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['total_steps'],
        message: 'adaptive grouping needs total_steps to know training progress',
      });
    }
    try {
      parseStrategyOptions(getGroupingStrategy(o.strategy), o.options);
    } catch (e) {
      ctx.addIssue({ code: 'custom', path: ['strategy'], message: (e as Error).message });
    }
  });
export type GroupingStageOptions = z.infer<typeof groupingStageOptions>;

/** What the stage is given besides options: an embedder, and where metrics go. */
export interface GroupingStageHooks {
  /** Computes embeddings when the strategy needs them and the batch has no `embedding` column. */
  embedder?: Embedder;
  /** Receives the `train/grouping/*` quality metrics of each batch. */
  onMetrics?: (events: MetricEvent[]) => void;
}

/** Reads a {@link GroupingInput} from a batch: `prompt_id`, `reward`, and `embedding` / `completion_tokens` / `completion_text` when present. */
export function readGroupingInput(batch: RecordBatch): GroupingInput {
  const input: GroupingInput = {
    promptIds: readInt32Column(batch, COLUMNS.promptId),
    rewards: readRewardColumn(batch, COLUMNS.reward),
  };
  if (batch.getChild(EMBEDDING_COLUMN)) {
    const { values, offsets } = readListColumn(batch, EMBEDDING_COLUMN, 'float32');
    input.embeddings = Array.from({ length: batch.numRows }, (_, i) =>
      values.subarray(offsets[i]!, offsets[i + 1]!),
    );
  }
  const texts = batch.getChild(COLUMNS.completionText);
  if (texts) input.completionTexts = texts.toArray() as (string | null)[];
  if (batch.getChild(COLUMNS.completionTokens)) {
    const { offsets } = readListColumn(batch, COLUMNS.completionTokens, 'int32');
    input.completionLengths = Int32Array.from(
      { length: batch.numRows },
      (_, i) => offsets[i + 1]! - offsets[i]!,
    );
  }
  return input;
}

/** `batch` with column `name` replaced in place (same position) by Int32 `values`. */
function replaceInt32Column(batch: RecordBatch, name: string, values: Int32Array): RecordBatch {
  const vector = makeVector(values);
  const fields = batch.schema.fields.map((f) =>
    f.name === name ? new Field(name, vector.type, false) : f,
  );
  const children = batch.data.children.map((c, i) =>
    batch.schema.fields[i]!.name === name ? vector.data[0]! : c,
  );
  const data = makeData({
    type: new Struct(fields),
    length: batch.numRows,
    nullCount: 0,
    children,
  });
  return new RecordBatch(new Schema(fields, batch.schema.metadata), data);
}

/**
 * The `grouping.form_groups` stage: forms groups with a registered strategy and
 * writes them as `group_id` (Int32). Reads `prompt_id`, `reward` (nulls are missing),
 * `embedding` (List<Float32>) if present — else calls `hooks.embedder` when the
 * strategy in force needs embeddings — and `completion_tokens` lengths if present.
 *
 * A stage never rewrites a column it did not make (DESIGN.md): if the batch already
 * has `group_id` (the rollout stage writes one), the stage fails unless
 * `replace_group_id: true`, which states in the recipe that this grouping supersedes
 * the rollout's. The step comes from the batch's metadata (`batchMeta`); each step's
 * randomness comes from `Rng(seed).fork('step:<step>')`, so a resumed run groups the same way.
 */
export function groupingStage(
  options: z.input<typeof groupingStageOptions> = {},
  hooks: GroupingStageHooks = {},
): Stage {
  const parsed = groupingStageOptions.safeParse(options);
  if (!parsed.success) {
    const detail = parsed.error.issues
      .map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`)
      .join('; ');
    throw new RxrlConfigError(`grouping.form_groups: ${detail}`);
  }
  const o = parsed.data;
  const entry = getGroupingStrategy(o.strategy);
  const strategyOptions = parseStrategyOptions(entry, o.options);
  const root = new Rng(o.seed);
  return (source) => source.pipe(concatMap((batch) => from(groupBatch(batch))));

  async function groupBatch(batch: RecordBatch): Promise<RecordBatch> {
    // the step travels with the batch (its metadata, counted from 1); progress counts the
    // steps completed before it, so a run's first step is at 0. Refill batches of one step
    // (dynamic sampling) share its step and draw their own streams by round.
    const meta = batchMeta(batch) ?? { step: 1, round: 0 };
    const at = meta.step - 1;
    const rngKey = meta.round === 0 ? `step:${at}` : `step:${at}:round:${meta.round}`;
    const hasGroupId = batch.getChild(COLUMNS.groupId) !== null;
    if (hasGroupId && !o.replace_group_id) {
      throw new RxrlDataError(
        `grouping.form_groups: the batch already has a '${COLUMNS.groupId}' column (the rollout writes one); set replace_group_id: true to replace it with the '${o.strategy}' grouping`,
        { field: COLUMNS.groupId },
      );
    }
    const totalSteps = o.total_steps ?? 0;
    const input = readGroupingInput(batch);
    const progress = { step: at, totalSteps };
    if (!input.embeddings && hooks.embedder && entry.needsEmbeddings(strategyOptions, progress)) {
      const rows = await hooks.embedder(batch);
      if (rows.length !== batch.numRows) {
        throw new RxrlDataError(
          `embedder returned ${rows.length} rows for a batch of ${batch.numRows}`,
          {
            field: EMBEDDING_COLUMN,
          },
        );
      }
      input.embeddings = rows;
    }
    const groupIds = formGroups(
      input,
      {
        strategy: o.strategy,
        options: o.options,
        min_group_size: o.min_group_size,
        max_group_size: o.max_group_size,
      },
      { step: at, totalSteps, rng: root.fork(rngKey) },
    );
    if (hooks.onMetrics) {
      const metrics = groupQualityMetrics({
        groupIds,
        rewards: input.rewards,
        ...(input.embeddings ? { embeddings: input.embeddings } : {}),
        ...(input.completionTexts ? { completionTexts: input.completionTexts } : {}),
      });
      hooks.onMetrics(Object.entries(metrics).map(([name, value]) => ({ step: at, name, value })));
    }
    return hasGroupId
      ? replaceInt32Column(batch, COLUMNS.groupId, groupIds)
      : addColumns(batch, { [COLUMNS.groupId]: groupIds });
  }
}
