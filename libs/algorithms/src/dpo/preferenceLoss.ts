import * as tf from '@tensorflow/tfjs-core';
import { map } from 'rxjs';
import { z } from 'zod';
import {
  batchStep,
  COLUMNS,
  defineStage,
  readListColumn,
  type StageDefinition,
} from '@rxrl/core/base';
import type { RecordBatch } from 'apache-arrow';
import {
  cpoLossOptionsSchema,
  dpoLoss,
  dpoLossOptionsSchema,
  ktoLossOptionsSchema,
  objectiveNeedsMismatchedKl,
  objectiveNeedsReference,
  orpoLossOptionsSchema,
  preferenceObjectiveLoss,
  readMetricsSync,
  type DpoInputs,
  type LossResult,
  type PreferenceObjectiveInput,
} from '@rxrl/loss';
import type { CausalLM } from '@rxrl/model';
import { lmBatchTensors } from '../shared/lmBatch';
import { microBatches } from '../shared/microBatches';
import { padTokenOf, trainingServices } from '../shared/trainingServices';
import type { PreferencePair } from './dpoExamples';
import { checkDpoLossKeys } from './dpoOptions';
import { pairBatchArrays, pairsOf, pairTokenLogps, splitPairs } from './pairBatch';
import { pairShiftsOf, type PairShifts } from './pairShifts';
import { REFERENCE_CHOSEN_LOGPS, REFERENCE_REJECTED_LOGPS } from './referenceLogprobs';

/** What a custom DPO objective sees for one micro-batch. */
export interface DpoLossContext {
  /** the optimizer step (0 in validation before training) */
  step: number;
  /** the micro-batch's pairs, row i of every tensor is pair i */
  pairs: readonly PreferencePair[];
  /** metrics of the previous training step (for controllers such as an adaptive β) */
  previous: Record<string, number>;
  /** true in validation */
  validation: boolean;
  /**
   * KTO's reference point z₀ = max(0, mean over the global batch of log π − log π_ref on
   * mismatched (prompt, completion) pairs), set when the trainer has `mismatchedKl`
   */
  klReferencePoint?: number;
}

/**
 * The objective of one micro-batch: by default `dpoLoss(options, inputs)`.
 * Replace it to change the loss (a reward bonus, extra terms via composeLosses,
 * a scheduled β) without touching the loop. Metrics come back prefixed
 * `train/` or `validation/`; `reward_gap` is also reported as `reward_margin`.
 */
export type DpoObjective = (inputs: DpoInputs, ctx: DpoLossContext) => LossResult;

/** Completion tokens of `pairs` (the chosen side), each counted with its pair's weight. */
export function chosenTokens(pairs: readonly PreferencePair[]): number {
  return pairs.reduce((n, p) => n + p.weight * p.chosen.length, 0);
}

/**
 * KTO's z₀ over `pairs` (TRL's KL dataset): prompt i with the completions of pair i + 1
 * (cyclically), both sides, scored by policy and reference without gradients; the
 * weighted mean of Σ_t (log π − log π_ref) per completion, clamped at 0.
 */
export function klReferencePoint(
  model: CausalLM,
  reference: CausalLM,
  pairs: readonly PreferencePair[],
  microBatchSize: number,
  pad: number,
): number | undefined {
  if (pairs.length === 0) return undefined;
  const n = pairs.length;
  const shifted = pairs.map((p, i) => ({
    ...p,
    chosen: pairs[(i + 1) % n]!.chosen,
    rejected: pairs[(i + 1) % n]!.rejected,
  }));
  let sum = 0;
  let count = 0;
  for (const mb of microBatches(shifted, microBatchSize)) {
    const a = pairBatchArrays(mb, pad);
    const perRow = tf.tidy(() => {
      const mask = lmBatchTensors(a).tokenMask;
      const diff = tf.sub(pairTokenLogps(model, a), pairTokenLogps(reference, a));
      return tf.sum(tf.mul(diff, mask), -1).dataSync();
    });
    perRow.forEach((v, r) => {
      const w = mb[r % mb.length]!.weight;
      sum += w * v;
      count += w;
    });
  }
  return count > 0 ? Math.max(0, sum / count) : 0;
}

/**
 * The objective of one micro-batch of pairs at the current policy (inside a
 * gradient tape or tf.tidy): the policy's per-token log-probs of both sides in
 * one forward pass, the reference's (`refLogps`, [2m, T]) when given, and the
 * pairs' bonuses and margins (`shifts`, from the batch's columns) when it has any.
 */
export function pairMicroBatchLoss(
  model: CausalLM,
  mb: readonly PreferencePair[],
  refLogps: tf.Tensor2D | null,
  pad: number,
  global: { pairs: number; chosenToks: number },
  objective: DpoObjective,
  ctx: DpoLossContext,
  shifts: PairShifts = {},
): LossResult {
  const a = pairBatchArrays(mb, pad);
  const t = lmBatchTensors(a);
  const logps = model.tokenLogProbs(t.ids, t.attention, t.targets);
  const pol = splitPairs(logps);
  const mask = splitPairs(t.tokenMask);
  const ref = refLogps ? splitPairs(refLogps) : null;
  const sampleMask = tf.tensor1d(mb.map((p) => p.weight));
  return objective(
    {
      ...shifts,
      policyChosenLogps: pol.chosen,
      policyRejectedLogps: pol.rejected,
      referenceChosenLogps: ref?.chosen,
      referenceRejectedLogps: ref?.rejected,
      chosenMask: mask.chosen,
      rejectedMask: mask.rejected,
      sampleMask,
      globalValidPairs: global.pairs,
      globalChosenToks: global.chosenToks,
    },
    ctx,
  );
}

/**
 * Rows `from`..`from + m` of a batch's reference columns as the [2m, T] tensor
 * `pairTokenLogps` gives for those pairs (chosen rows, then rejected rows),
 * padding positions 0 (they are masked); null without the columns.
 */
function referenceRows(
  batch: RecordBatch,
  from: number,
  m: number,
  width: number,
): tf.Tensor2D | null {
  if (!batch.getChild(REFERENCE_CHOSEN_LOGPS)) return null;
  const out = new Float32Array(2 * m * width);
  [REFERENCE_CHOSEN_LOGPS, REFERENCE_REJECTED_LOGPS].forEach((name, side) => {
    const { values, offsets } = readListColumn(batch, name, 'float32');
    for (let r = 0; r < m; r++)
      out.set(values.subarray(offsets[from + r]!, offsets[from + r + 1]!), (side * m + r) * width);
  });
  return tf.tensor2d(out, [2 * m, width]);
}

/**
 * A preference loss node's definition, plus what validation needs to score held-out
 * pairs with the same objective (`objectiveOf`) and whether it takes KTO's z₀.
 */
export interface PreferenceLossDefinition<
  S extends z.ZodType = z.ZodType,
> extends StageDefinition<S> {
  objectiveOf(options: z.output<S>): DpoObjective;
  mismatchedKl(options: z.output<S>): boolean;
}

/** The definition of a validated preference loss node, or null for another stage. */
export function asPreferenceLoss(definition: StageDefinition): PreferenceLossDefinition | null {
  return 'objectiveOf' in definition ? (definition as PreferenceLossDefinition) : null;
}

/**
 * The `validation` service of a DPO validation graph: with it a preference loss node
 * scores its batch without gradients (no update) and emits the objective's metrics
 * summed over the micro-batches.
 */
export interface PreferenceValidation {
  /** pairs per forward pass of KTO's z₀ (the training micro-batch size, as training computes it) */
  kl_micro_batch_size: number;
}

/** Options every preference loss node has besides its objective's. */
const microBatchShape = {
  /** pairs per forward/backward pass (a recipe's `policy.train_micro_batch_size`); gradients add up over them */
  micro_batch_size: z.int().positive().default(8),
};

/** A node's options as its objective takes them (without `micro_batch_size`). */
function objectiveOptions<O extends { micro_batch_size: number }>(
  o: O,
): Omit<O, 'micro_batch_size'> {
  const { micro_batch_size: _size, ...rest } = o;
  return rest;
}

/** The columns of a preference batch a loss node reads; with `reference`, π_ref's log-probs too. */
function preferenceColumns(reference: boolean): string[] {
  return [
    COLUMNS.promptTokens,
    COLUMNS.chosenTokens,
    COLUMNS.rejectedTokens,
    COLUMNS.sampleMask,
    ...(reference ? [REFERENCE_CHOSEN_LOGPS, REFERENCE_REJECTED_LOGPS] : []),
  ];
}

/**
 * A preference loss node over batches of pairs (an optimizer step's): per
 * micro-batch, the policy's log-probs and `objectiveOf(options)` normalised by
 * the batch's pair and chosen-token counts, gradients added to the `update`
 * service for `optimizer.step`. π_ref's log-probs come from the batch's
 * `reference_*_logps` columns (`policy.reference_logprobs`) when it has them, the
 * pairs' bonuses and margins from its `bonus/<name>/chosen|rejected` and
 * `margin/<name>` columns (a `reward.pair` node before it) when it has those;
 * with `mismatchedKl(options)` it also takes KTO's z₀ over the batch. Emits the
 * objective's metrics summed over micro-batches.
 */
export function preferenceLossStage<S extends z.ZodType<{ micro_batch_size: number }>>(
  def: {
    name: string;
    description: string;
    schema: S;
    /** whether the objective reads π_ref's log-probs (then the graph must compute them first) */
    needsReference: (options: z.output<S>) => boolean;
    mismatchedKl: (options: z.output<S>) => boolean;
  },
  objectiveOf: (options: z.output<S>) => DpoObjective,
): PreferenceLossDefinition<S> {
  const stage = defineStage({
    name: def.name,
    description: def.description,
    schema: def.schema,
    requires: (o) => preferenceColumns(def.needsReference(o)),
    produces: [],
    create(options, context) {
      const s = trainingServices(context, def.name);
      const pad = padTokenOf(s.tokenizer);
      const objective = objectiveOf(options);
      const size = options.micro_batch_size;
      const validation = context.services['validation'] as PreferenceValidation | undefined;
      return map((batch) => {
        const step = batchStep(batch);
        const pairs = pairsOf(batch);
        const global = {
          pairs: pairs.reduce((n, p) => n + p.weight, 0),
          chosenToks: chosenTokens(pairs),
        };
        const kl =
          def.mismatchedKl(options) && s.reference
            ? klReferencePoint(
                s.policy,
                s.reference,
                pairs,
                validation?.kl_micro_batch_size ?? size,
                pad,
              )
            : undefined;
        const previous = s.previousMetrics();
        const mbs = microBatches(
          pairs.map((_, i) => i),
          size,
        );
        const loss = (rows: number[]) => {
          const mb = rows.map((i) => pairs[i]!);
          const width = pairBatchArrays(mb, pad).seqLen;
          const ref = referenceRows(batch, rows[0]!, rows.length, width);
          return pairMicroBatchLoss(
            s.policy,
            mb,
            ref,
            pad,
            global,
            objective,
            {
              step,
              pairs: mb,
              previous,
              validation: validation !== undefined,
              klReferencePoint: kl,
            },
            pairShiftsOf(batch, rows),
          );
        };
        if (validation) {
          // validation: the objective's metrics without gradients, summed over the micro-batches
          const sums: Record<string, number> = {};
          for (const rows of mbs) {
            const m = readMetricsSync(tf.tidy(() => loss(rows).metrics));
            for (const [k, v] of Object.entries(m))
              sums[k] = k.endsWith('weight') ? v : (sums[k] ?? 0) + v;
          }
          context.emit(sums);
          return batch;
        }
        context.emit(
          s.update.accumulate({
            model: s.policy,
            optimizer: s.optimizer,
            microBatches: mbs,
            loss,
          }),
        );
        return batch;
      });
    },
  });
  return { ...stage, objectiveOf, mismatchedKl: def.mismatchedKl };
}

/** `loss.dpo`: `dpoLoss` with NeMo RL's keys and TRL's variants (the `dpo` section's loss keys). */
export const dpoLossStage = preferenceLossStage(
  {
    name: 'loss.dpo',
    description: 'DPO and its TRL variants (dpoLoss) over preference pairs',
    // dpoLoss's own checks (loss_weights per loss_type, β > 0 for ipo) on the node's options
    schema: z
      .strictObject({ ...dpoLossOptionsSchema.shape, ...microBatchShape })
      .superRefine(checkDpoLossKeys),
    needsReference: (o) => !o.reference_free,
    mismatchedKl: () => false,
  },
  (o) => (inputs) => dpoLoss(objectiveOptions(o), inputs),
);

/** The loss node of a preference objective `dpo.objective` can name, with its TRL options. */
function namedObjectiveStage(
  name: PreferenceObjectiveInput['name'],
  description: string,
  schema: z.ZodObject,
) {
  const spec = (o: Record<string, unknown>) =>
    ({ ...objectiveOptions(o as { micro_batch_size: number }), name }) as PreferenceObjectiveInput;
  return preferenceLossStage(
    {
      name: `loss.${name}`,
      description,
      // the objective's own schema (strict) with the node's micro-batch size
      schema: schema.extend(microBatchShape) as unknown as z.ZodType<
        { micro_batch_size: number } & Record<string, unknown>
      >,
      needsReference: () => objectiveNeedsReference({ name }),
      mismatchedKl: (o) => objectiveNeedsMismatchedKl(spec(o)),
    },
    (o) => (inputs, ctx) => preferenceObjectiveLoss(spec(o), inputs, ctx),
  );
}

/** `loss.orpo`, `loss.cpo`, `loss.kto`: the preference objectives `dpo.objective` names, with TRL's options. */
export const preferenceObjectiveStages = [
  namedObjectiveStage(
    'orpo',
    'ORPO: NLL + odds-ratio term, no reference model',
    orpoLossOptionsSchema,
  ),
  namedObjectiveStage(
    'cpo',
    'CPO / SimPO: reference-free pair loss + cpo_alpha·NLL',
    cpoLossOptionsSchema,
  ),
  namedObjectiveStage(
    'kto',
    'KTO on pairs: chosen desirable, rejected undesirable (z₀ from mismatched pairs with loss_type kto)',
    ktoLossOptionsSchema,
  ),
];

/**
 * `loss.objective`: a preference objective given in code (`DpoTrainer`'s / `runDpo`'s
 * `objective`); it reads π_ref's log-probs when the batch has them.
 */
export function codeObjectiveStage(
  objective: DpoObjective,
  mismatchedKl: boolean,
): PreferenceLossDefinition {
  return preferenceLossStage(
    {
      name: 'loss.objective',
      description: 'a preference objective given in code',
      schema: z.strictObject(microBatchShape),
      needsReference: () => false,
      mismatchedKl: () => mismatchedKl,
    },
    () => objective,
  );
}
