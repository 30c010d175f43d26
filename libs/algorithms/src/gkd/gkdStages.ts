import * as tf from '@tensorflow/tfjs-core';
import { concatMap, map } from 'rxjs';
import { z } from 'zod';
import {
  addColumns,
  batchStep,
  COLUMNS,
  defineStage,
  listVectorFromRows,
  readListColumn,
  requireService,
  Rng,
  type Tokenizer,
} from '@rxrl/core/base';
import type { RecordBatch } from 'apache-arrow';
import { gkdLossOptionsSchema, readMetricsSync } from '@rxrl/loss';
import type { CausalLM } from '@rxrl/model';
import type { LmSequence } from '../shared/lmBatch';
import { microBatches } from '../shared/microBatches';
import { padTokenOf, trainingServices } from '../shared/trainingServices';
import { sftExamplesOf } from '../sft/sftBatch';
import { gkdMicroBatchLoss, lossTokens, teacherLogits, type GkdObjective } from './gkdLoss';
import { sampledCompletions } from './sampledCompletions';

/** The sequences a GKD step trains on (prompt + completion: sampled, or the dataset's). */
export const GKD_TOKENS = 'gkd_tokens';
/** 1 on their completion tokens. */
export const GKD_LOSS_MASK = 'gkd_loss_mask';

/** Options of `gkd.sample_completions` (TRL GKDConfig names). */
export const sampleCompletionsOptionsSchema = z.strictObject({
  /** probability that a step trains on the student's own samples (on-policy), drawn once per step */
  lmbda: z.number().min(0).max(1).default(0.5),
  /** off-policy steps train on the teacher's samples instead of the dataset's completions */
  seq_kd: z.boolean().default(false),
  /** sampling temperature */
  temperature: z.number().positive().default(0.9),
  /** longest sampled completion in tokens */
  max_new_tokens: z.int().positive().default(128),
  /** longest prompt + completion (a recipe's `policy.max_total_sequence_length`) */
  max_length: z.int().positive().default(512),
  /** prompts generated at a time */
  generation_batch_size: z.int().positive().default(64),
  /** the draw and the samples are seeded by (seed, step), so a resumed run repeats them */
  seed: z.int().min(0).default(42),
});

/**
 * `gkd.sample_completions`: each batch's sequences for the loss, as `gkd_tokens` /
 * `gkd_loss_mask`: with probability `lmbda` (drawn per step, seeded by the batch's
 * step) the student's samples for the batch's prompts, else the teacher's with
 * `seq_kd`, else the dataset's own completions. Emits `on_policy`,
 * `teacher_sampled` and `timing/generation_s`. With a `validation` service (a
 * validation graph) always the dataset's completions, drawing and emitting nothing.
 */
export const sampleCompletionsStage = defineStage({
  name: 'gkd.sample_completions',
  description:
    "the sequences a GKD step trains on: the student's or teacher's samples, or the data's",
  schema: sampleCompletionsOptionsSchema,
  requires: [COLUMNS.inputTokens, COLUMNS.lossMask, COLUMNS.sampleMask],
  produces: [GKD_TOKENS, GKD_LOSS_MASK],
  create(o, context) {
    const stage = 'gkd.sample_completions';
    const student = requireService<CausalLM>(context, 'policy', stage);
    const teacher = requireService<CausalLM>(context, 'teacher', stage);
    const tokenizer = requireService<Tokenizer>(context, 'tokenizer', stage);
    // validation is teacher-forced on the held-out reference completions, as TRL evaluates
    const validation = context.services['validation'] !== undefined;
    return concatMap(async (batch: RecordBatch) => {
      const started = performance.now();
      if (validation) return withSequences(batch, sftExamplesOf(batch));
      const examples = sftExamplesOf(batch);
      const rng = new Rng(o.seed).fork(`gkd/step/${batchStep(batch)}`);
      // TRL draws once per batch: `random.random() <= lmbda`; lmbda 0 never, 1 always
      const onPolicy = o.lmbda > 0 && rng.float() < o.lmbda;
      const source = onPolicy ? student : o.seq_kd ? teacher : null;
      const seqs: LmSequence[] =
        source === null
          ? examples
          : await sampledCompletions(
              source,
              tokenizer,
              examples.map((e) => e.prompt),
              {
                temperature: o.temperature,
                maxNewTokens: o.max_new_tokens,
                maxLength: o.max_length,
                seed: rng.uint32(),
                batchSize: o.generation_batch_size,
              },
            );
      context.emit({
        on_policy: onPolicy ? 1 : 0,
        teacher_sampled: source === teacher && !onPolicy ? 1 : 0,
        'timing/generation_s': (performance.now() - started) / 1000,
      });
      return withSequences(batch, seqs);
    });
  },
});

/** `batch` with `seqs` (one per row) as its `gkd_tokens` / `gkd_loss_mask` columns. */
function withSequences(batch: RecordBatch, seqs: readonly LmSequence[]): RecordBatch {
  return addColumns(batch, {
    [GKD_TOKENS]: listVectorFromRows(seqs.map((s) => s.tokens)),
    [GKD_LOSS_MASK]: listVectorFromRows(
      seqs.map((s) => s.mask),
      'uint8',
    ),
  });
}

/** The sequences of a GKD batch (`gkd_tokens` / `gkd_loss_mask`) with their examples' weights. */
export function gkdSequences(batch: RecordBatch) {
  const tokens = readListColumn(batch, GKD_TOKENS, 'int32');
  const mask = readListColumn(batch, GKD_LOSS_MASK, 'uint8');
  return sftExamplesOf(batch).map((e, i) => ({
    tokens: tokens.values.subarray(tokens.offsets[i]!, tokens.offsets[i + 1]!),
    mask: mask.values.subarray(mask.offsets[i]!, mask.offsets[i + 1]!),
    weight: e.weight,
  }));
}

/**
 * `loss.gkd`: the generalised JSD between the student's and the frozen teacher's
 * (`teacher` service) next-token distributions at each sequence's loss tokens, per
 * micro-batch of `micro_batch_size`, divided by the batch's weighted loss tokens;
 * gradients added to the `update` service for `optimizer.step`. A `gkd_objective`
 * service (a {@link GkdObjective}) replaces `gkdLoss`. With a `validation` service (a
 * validation graph) it scores the batch with `gkdLoss` without gradients and emits the
 * metrics summed over the micro-batches, updating nothing.
 */
export const gkdLossStage = defineStage({
  name: 'loss.gkd',
  description: "generalised JSD to the teacher's next-token distributions (GKD)",
  schema: gkdLossOptionsSchema.extend({
    /** sequences per forward/backward pass (a recipe's `policy.train_micro_batch_size`) */
    micro_batch_size: z.int().positive().default(8),
  }),
  requires: [GKD_TOKENS, GKD_LOSS_MASK, COLUMNS.sampleMask],
  produces: [],
  create(o, context) {
    const s = trainingServices(context, 'loss.gkd');
    const teacher = requireService<CausalLM>(context, 'teacher', 'loss.gkd');
    const pad = padTokenOf(s.tokenizer);
    const objective = context.services['gkd_objective'] as GkdObjective | undefined;
    const validation = context.services['validation'] !== undefined;
    return map((batch) => {
      const step = batchStep(batch);
      const seqs = gkdSequences(batch);
      const global = lossTokens(seqs);
      const mbs = microBatches(seqs, o.micro_batch_size);
      if (validation) {
        // validation: the generalised JSD (validation/loss stays it whatever the training
        // objective) without gradients, summed over the micro-batches
        const sums: Record<string, number> = {};
        for (const mb of mbs) {
          const t = teacherLogits(teacher, mb, pad);
          const m = readMetricsSync(
            tf.tidy(() => gkdMicroBatchLoss(s.policy, mb, t, global, pad, o).metrics),
          );
          t.dispose();
          for (const [k, v] of Object.entries(m)) sums[k] = (sums[k] ?? 0) + v;
        }
        context.emit(sums);
        return batch;
      }
      // the teacher's logits are constants of the loss: computed outside the tape, kept
      // until the update is applied (a non-finite one re-runs the loss to locate it)
      const parts = mbs.map((mb) => teacherLogits(teacher, mb, pad));
      context.emit(
        s.update.accumulate({
          model: s.policy,
          optimizer: s.optimizer,
          microBatches: mbs,
          loss: (mb, i) =>
            gkdMicroBatchLoss(s.policy, mb, parts[i]!, global, pad, o, objective, step),
          release: () => tf.dispose(parts),
        }),
      );
      return batch;
    });
  },
});
