import type { RecordBatch } from 'apache-arrow';
import { concatMap, from, lastValueFrom, mergeMap, toArray } from 'rxjs';
import { z } from 'zod';
import { RxrlDataError, type Stage } from '@rxrl/core/base';
import {
  appendFloat32Columns,
  isScalarType,
  readListLengths,
  readStrings,
  scalarAt,
} from './columns';
import { combine, compositeOptions, isComposite, normalizeComponents } from './compositeReward';
import {
  RewardFatalError,
  type RewardComponent,
  type RewardContext,
  type RewardFailure,
  type RewardFn,
  type RewardSample,
  type RewardValue,
} from './sample';

/** Options of the reward stage, shared by every `reward.*` registry entry. */
export const rewardStageShape = {
  /** Reward calls in flight at once per component (async functions, workers, remote requests). */
  max_concurrency: z.number().int().positive().default(16),
  /** A reward function that throws: `null` gives the sample a null reward and counts it; `raise` stops the run. */
  on_error: z.enum(['null', 'raise']).default('null'),
  /** Also write a single reward function's values as `reward/<name>`. */
  name: z
    .string()
    .regex(/^[\w.-]+$/)
    .optional(),
};
export const rewardStageOptions = z.strictObject({
  ...rewardStageShape,
  ...compositeOptions.shape,
});
export type RewardStageOptions = z.infer<typeof rewardStageOptions>;

/** Per-batch counts and means, reported through `hooks.onMetrics`. */
export interface RewardBatchMetrics {
  /** Rows in the batch. */
  samples: number;
  /** Mean of the non-null totals (NaN when all are null). */
  'reward/mean': number;
  /** Samples whose total is null (NaN in the column). */
  'reward/nulls': number;
  /** Samples a worker verifier timed out on. */
  'reward/timeouts': number;
  /** Samples whose reward function threw. */
  'reward/errors': number;
  /** `reward/<name>/mean` for each component. */
  [name: string]: number;
}

/** Observers of the stage. */
export interface RewardStageHooks {
  /** Called once per batch, before the batch is emitted. */
  onMetrics?: (metrics: RewardBatchMetrics) => void;
}

/** What `rewardStage` accepts: one function, a composite, named components, or a name → function record. */
export type RewardSpec = RewardFn | RewardComponent[] | Record<string, RewardFn>;

const KNOWN = new Set(['prompt_text', 'completion_text', 'answer', 'finish_reason']);

/** One sample per row from the DESIGN.md columns, plus every other scalar column by name. */
export function samplesFromBatch(batch: RecordBatch): RewardSample[] {
  const completion = readStrings(batch, 'completion_text');
  if (!completion)
    throw new RxrlDataError("reward stage: batch has no 'completion_text' column", {
      field: 'completion_text',
    });
  const prompt = readStrings(batch, 'prompt_text');
  const answer = readStrings(batch, 'answer');
  const finish = readStrings(batch, 'finish_reason');
  const tokens = readListLengths(batch, 'completion_tokens');
  const extras = batch.schema.fields
    .filter((f) => !KNOWN.has(f.name) && isScalarType(f.type))
    .map((f) => ({ name: f.name, col: batch.getChild(f.name)! }));
  const out: RewardSample[] = [];
  for (let i = 0; i < batch.numRows; i++) {
    const s: RewardSample = { prompt: prompt?.[i] ?? '', completion: completion[i] ?? '' };
    if (answer) s.answer = answer[i];
    if (finish) s.finishReason = finish[i];
    if (tokens) s.completionTokens = tokens[i];
    for (const { name, col } of extras) s[name] = scalarAt(col, i);
    out.push(s);
  }
  return out;
}

/**
 * The reward stage: scores each row and appends `reward` (Float32) and, for composites or a
 * named function, one `reward/<name>` column per component. A null reward is written as NaN
 * (downstream advantage code treats NaN as missing) and counted. Existing columns are never
 * rewritten: a batch that already has one of the output columns is an error. Batches keep
 * their order; within a batch, at most `max_concurrency` calls per component are in flight.
 *
 * @example
 * source$.pipe(rewardStage({ math: mathReward(), format: formatReward() }), ...)
 */
export function rewardStage(
  spec: RewardSpec,
  options: z.input<typeof rewardStageOptions> = {},
  hooks: RewardStageHooks = {},
): Stage {
  const o = rewardStageOptions.parse(options);
  const { components, policy, named } = resolveSpec(spec, o);
  const weights = components.map((c) => c.weight);
  const outNames = ['reward', ...(named ? components.map((c) => `reward/${c.name}`) : [])];

  const scoreBatch = async (batch: RecordBatch): Promise<RecordBatch> => {
    for (const n of outNames)
      if (batch.getChild(n))
        throw new RxrlDataError(
          `reward stage: batch already has a '${n}' column; a stage never rewrites columns`,
          { field: n },
        );
    const samples = samplesFromBatch(batch);
    const counts: Record<RewardFailure, number> = { timeout: 0, error: 0 };
    const ctx: RewardContext = { report: (kind) => void counts[kind]++ };
    const perComponent = await Promise.all(
      components.map((c) => scoreComponent(c.fn, samples, ctx, o)),
    );
    const total = new Float32Array(samples.length);
    let nulls = 0;
    let sum = 0;
    for (let i = 0; i < samples.length; i++) {
      const v = combine(
        perComponent.map((vals) => vals[i]),
        weights,
        policy,
      );
      if (v === null) nulls++;
      else sum += v;
      total[i] = v ?? NaN;
    }
    const columns = [{ name: 'reward', values: total }];
    const metrics: RewardBatchMetrics = {
      samples: samples.length,
      'reward/mean': samples.length > nulls ? sum / (samples.length - nulls) : NaN,
      'reward/nulls': nulls,
      'reward/timeouts': counts.timeout,
      'reward/errors': counts.error,
    };
    if (named)
      components.forEach((c, k) => {
        const values = Float32Array.from(perComponent[k], (v) => v ?? NaN);
        columns.push({ name: `reward/${c.name}`, values });
        const ok = perComponent[k].filter((v): v is number => v !== null);
        metrics[`reward/${c.name}/mean`] = ok.length
          ? ok.reduce((a, b) => a + b, 0) / ok.length
          : NaN;
      });
    hooks.onMetrics?.(metrics);
    return appendFloat32Columns(batch, columns);
  };

  return (source) => source.pipe(concatMap(scoreBatch));
}

function resolveSpec(spec: RewardSpec, o: RewardStageOptions) {
  if (typeof spec === 'function') {
    if (isComposite(spec))
      return { components: spec.components, policy: spec.options.null_policy, named: true };
    return {
      components: normalizeComponents([{ name: o.name ?? 'reward', fn: spec }]),
      policy: o.null_policy,
      named: o.name !== undefined,
    };
  }
  const list = Array.isArray(spec)
    ? spec
    : Object.entries(spec).map(([name, fn]) => ({ name, fn }));
  return { components: normalizeComponents(list), policy: o.null_policy, named: true };
}

/** One component's values for every sample, in row order; per-sample failures become null. */
async function scoreComponent(
  fn: RewardFn,
  samples: RewardSample[],
  ctx: RewardContext,
  o: RewardStageOptions,
): Promise<RewardValue[]> {
  const guard = (e: unknown): RewardValue => {
    if (e instanceof RewardFatalError || o.on_error === 'raise') throw e;
    ctx.report('error', (e as Error)?.message);
    return null;
  };
  if (fn.batch) {
    try {
      const vals = await fn.batch(samples, ctx);
      if (vals.length !== samples.length)
        throw new RewardFatalError(
          `reward stage: batch reward returned ${vals.length} values for ${samples.length} samples`,
        );
      return vals;
    } catch (e) {
      return samples.map(() => guard(e));
    }
  }
  const out = new Array<RewardValue>(samples.length);
  const one = async (i: number) => {
    try {
      const v: unknown = await fn(samples[i], ctx);
      if (v === null || (typeof v === 'number' && Number.isFinite(v))) out[i] = v;
      else
        throw new RxrlDataError(
          `reward function returned ${String(v)} for row ${i}; expected a finite number or null`,
          { row: i },
        );
    } catch (e) {
      out[i] = guard(e);
    }
  };
  await lastValueFrom(from(samples.keys()).pipe(mergeMap(one, o.max_concurrency), toArray()));
  return out;
}
