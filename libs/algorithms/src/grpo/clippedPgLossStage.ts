import * as tf from '@tensorflow/tfjs-core';
import { map } from 'rxjs';
import { z } from 'zod';
import { RecordBatch, Schema } from 'apache-arrow';
import {
  batchStep,
  COLUMNS,
  defineStage,
  listVector,
  makeRecordBatch,
  readFloat32Column,
  readListColumn,
} from '@rxrl/core/base';
import type { GraphSpec } from '@rxrl/pipeline';
import {
  clippedPgLoss,
  clippedPgLossOptionsSchema,
  CoefficientSchedules,
  stopGradient,
  type ClippedPgInputs,
  type ClippedPgLossOptions,
  type LossResult,
} from '@rxrl/loss';
import type { CausalLM } from '@rxrl/model';
import { microBatches } from '../shared/microBatches';
import { trainingServices } from '../shared/trainingServices';
import {
  completionEntropiesHost,
  completionLogprobs,
  completionLogprobsAndEntropies,
  completionLogprobsHost,
  policyBatch,
  type PolicyBatch,
} from './policyBatch';

/** What a custom GRPO objective sees besides the micro-batch's tensors. */
export interface GrpoLossContext {
  /** the training step (from 1) */
  step: number;
  /** the recipe's `loss_fn` options, parsed */
  options: ClippedPgLossOptions;
}

/**
 * The loss of one GRPO micro-batch: by default `clippedPgLoss(loss_fn, inputs)`.
 * Replace it to change the policy-gradient objective (an extra term through
 * composeLosses, another clipping rule) without forking the trainer; `loss` is
 * normalised by the global valid tokens / sequences in `inputs`, as the default is.
 */
export type GrpoObjective = (inputs: ClippedPgInputs, ctx: GrpoLossContext) => LossResult;

/** Schema metadata key: how many optimizer updates the step's samples are split into. */
const UPDATES_METADATA_KEY = 'rxrl.updates_in_step';

/** `batch` tagged with the number of updates its step makes (π_old is fixed when there are several). */
export function withUpdatesInStep(batch: RecordBatch, updates: number): RecordBatch {
  const metadata = new Map(batch.schema.metadata);
  metadata.set(UPDATES_METADATA_KEY, String(updates));
  return new RecordBatch(new Schema(batch.schema.fields, metadata), batch.data);
}

/** Columns of the batches the GRPO update reads. */
export const GRPO_UPDATE_COLUMNS = [
  COLUMNS.promptTokens,
  COLUMNS.completionTokens,
  COLUMNS.genLogprobs,
  COLUMNS.advantage,
  COLUMNS.reward,
  COLUMNS.sampleMask,
];

/** `loss.clipped_pg` options: the `loss_fn` section, plus how the update runs. */
const clippedPgStageSchema = z
  .strictObject({
    ...clippedPgLossOptionsSchema.shape,
    /** samples per forward/backward pass (a recipe's `policy.train_micro_batch_size`) */
    micro_batch_size: z.int().positive().default(8),
    /** the rollout's sampling temperature: log-probs are of softmax(logits / T) (T = 0 trains at 1) */
    temperature: z.number().positive().default(1),
  })
  .superRefine((o, ctx) => {
    const { micro_batch_size: _m, temperature: _t, ...loss } = o;
    const parsed = clippedPgLossOptionsSchema.safeParse(loss);
    if (!parsed.success)
      for (const issue of parsed.error.issues)
        ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
  });

/**
 * `loss.clipped_pg`: GRPO's policy update on one optimizer batch of samples. Per
 * micro-batch: the samples laid out for one forward pass, π_ref's log-probs (the
 * `reference` service, when the KL penalty needs it), π_old's when the step makes
 * several updates, the policy's entropies before the update for
 * `top_entropy_quantile`; then the objective (`clippedPgLoss`, or the
 * `grpo_objective` service) normalised by the batch's valid tokens and sequences,
 * gradients added to the `update` service for `optimizer.step`. The `loss_fn`
 * coefficients a schedule drives this step come from the `step_coefficients`
 * service. Emits the loss metrics and `trained_tokens`.
 */
export const clippedPgLossStage = defineStage({
  name: 'loss.clipped_pg',
  description: 'the clipped policy-gradient loss of GRPO on an optimizer batch of samples',
  schema: clippedPgStageSchema,
  requires: GRPO_UPDATE_COLUMNS,
  produces: [],
  create(o, context) {
    const s = trainingServices(context, 'loss.clipped_pg');
    const { micro_batch_size, temperature, ...lossOptions } = o;
    const options = lossOptions as ClippedPgLossOptions;
    const objective: GrpoObjective =
      (context.services['grpo_objective'] as GrpoObjective | undefined) ??
      ((inputs, ctx) => clippedPgLoss(ctx.options, inputs));
    const coefficients =
      (context.services['step_coefficients'] as (() => Record<string, number>) | undefined) ??
      (() => ({}));
    const pad = s.tokenizer.padTokenId ?? 0;
    return map((batch) => {
      const step = batchStep(batch);
      const lossFn = CoefficientSchedules.apply({ loss_fn: options }, coefficients()).loss_fn;
      const several = Number(batch.schema.metadata.get(UPDATES_METADATA_KEY) ?? 1) > 1;
      const cols = {
        prompts: readListColumn(batch, COLUMNS.promptTokens, 'int32'),
        completions: readListColumn(batch, COLUMNS.completionTokens, 'int32'),
        gen: readListColumn(batch, COLUMNS.genLogprobs, 'float32'),
        advantages: readFloat32Column(batch, COLUMNS.advantage),
        rewards: readFloat32Column(batch, COLUMNS.reward),
        sampleMask: readFloat32Column(batch, COLUMNS.sampleMask),
      };
      const all = Array.from({ length: batch.numRows }, (_, i) => i);
      const mbs = microBatches(all, micro_batch_size).map((rows) => {
        const pb: PolicyBatch = policyBatch(rows, cols.prompts, cols.completions, pad);
        const mask = Float32Array.from(rows, (r) => cols.sampleMask[r]!);
        let validToks = 0;
        for (let i = 0; i < rows.length; i++)
          for (let t = 0; t < pb.width; t++)
            validToks += pb.tokenMask[i * pb.width + t]! * mask[i]!;
        return {
          pb,
          mask,
          validToks,
          validSeqs: mask.reduce((a, b) => a + b, 0),
          adv: Float32Array.from(rows, (r) => cols.advantages[r]!),
          rewards: Float32Array.from(rows, (r) =>
            Number.isNaN(cols.rewards[r]!) ? 0 : cols.rewards[r]!,
          ),
          gen: pb.align(cols.gen.values, cols.gen.offsets),
          ref: s.reference ? completionLogprobsHost(s.reference, pb, temperature) : null,
          // with several updates per rollout, π_old must be fixed before the first one
          prev: several ? completionLogprobsHost(s.policy, pb, temperature) : null,
          // top_entropy_quantile: the policy's token entropies before this update
          ent:
            options.top_entropy_quantile < 1
              ? completionEntropiesHost(s.policy, pb, temperature)
              : null,
        };
      });
      const globalValidToks = mbs.reduce((a, m) => a + m.validToks, 0);
      const globalValidSeqs = mbs.reduce((a, m) => a + m.validSeqs, 0);
      const model: CausalLM = s.policy;
      const m = s.update.accumulate({
        model,
        optimizer: s.optimizer,
        microBatches: mbs,
        loss: (mb) => {
          const B = mb.pb.rows;
          const T = mb.pb.width;
          // entropy_coef: the policy's entropies from the same pass, with gradient
          const both =
            lossFn.entropy_coef !== 0
              ? completionLogprobsAndEntropies(model, mb.pb, temperature)
              : null;
          const curr = both?.logprobs ?? completionLogprobs(model, mb.pb, temperature);
          return objective(
            {
              ...(both ? { policyEntropies: both.entropies } : {}),
              currLogprobs: curr,
              prevLogprobs: mb.prev
                ? tf.tensor2d(mb.prev, [B, T])
                : (stopGradient(curr) as tf.Tensor2D),
              generationLogprobs: tf.tensor2d(mb.gen, [B, T]),
              ...(mb.ref ? { refLogprobs: tf.tensor2d(mb.ref, [B, T]) } : {}),
              advantages: tf.tensor1d(mb.adv),
              tokenMask: tf.tensor2d(mb.pb.tokenMask, [B, T]),
              sampleMask: tf.tensor1d(mb.mask),
              rewards: tf.tensor1d(mb.rewards),
              globalValidToks: Math.max(globalValidToks, 1),
              globalValidSeqs: Math.max(globalValidSeqs, 1),
              ...(mb.ent ? { entropies: tf.tensor2d(mb.ent, [B, T]) } : {}),
            },
            { step, options: lossFn },
          );
        },
      });
      const trained = mbs.reduce((a, mb) => a + mb.pb.rows * (mb.pb.promptWidth + mb.pb.width), 0);
      context.emit({ ...m, trained_tokens: trained });
      return batch;
    });
  },
});

/** The samples `rows` of a step as the batch one policy update reads ({@link GRPO_UPDATE_COLUMNS}). */
export function updateBatch(rows: {
  prompts: { values: Int32Array; offsets: Int32Array };
  completions: { values: Int32Array; offsets: Int32Array };
  genLogprobs: { values: Float32Array; offsets: Int32Array };
  advantages: Float32Array;
  rewards: Float32Array;
  sampleMask: Float32Array;
}): RecordBatch {
  return makeRecordBatch({
    [COLUMNS.promptTokens]: listVector(rows.prompts.values, rows.prompts.offsets),
    [COLUMNS.completionTokens]: listVector(rows.completions.values, rows.completions.offsets),
    [COLUMNS.genLogprobs]: listVector(rows.genLogprobs.values, rows.genLogprobs.offsets),
    [COLUMNS.advantage]: rows.advantages,
    [COLUMNS.reward]: rows.rewards,
    [COLUMNS.sampleMask]: rows.sampleMask,
  });
}

/**
 * The policy update graph of a GRPO recipe: `loss.clipped_pg` with the `loss_fn`
 * section, `policy.train_micro_batch_size` and the training temperature, then
 * `optimizer.step` with `policy.max_grad_norm` and `logger.grad_norm_per_layer_every`
 * (the run's optimizer is built from `policy.optimizer` / `policy.scheduler`, which the
 * node shows).
 */
export function grpoUpdateSpec(
  config: {
    loss_fn: ClippedPgLossOptions;
    policy: {
      train_micro_batch_size: number;
      max_grad_norm: number | null;
      optimizer?: unknown;
      scheduler?: unknown;
    };
    logger: { grad_norm_per_layer_every: number };
  },
  temperature: number,
): GraphSpec {
  return [
    {
      stage: 'loss.clipped_pg',
      options: {
        ...config.loss_fn,
        micro_batch_size: config.policy.train_micro_batch_size,
        temperature,
      },
    },
    {
      stage: 'optimizer.step',
      options: {
        ...(config.policy.optimizer ? { optimizer: config.policy.optimizer } : {}),
        ...(config.policy.scheduler ? { scheduler: config.policy.scheduler } : {}),
        max_grad_norm: config.policy.max_grad_norm,
        grad_norm_per_layer_every: config.logger.grad_norm_per_layer_every,
      },
    },
  ];
}
