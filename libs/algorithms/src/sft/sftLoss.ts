import * as tf from '@tensorflow/tfjs-core';
import { map } from 'rxjs';
import { z } from 'zod';
import { batchStep, COLUMNS, defineStage, type StageDefinition } from '@rxrl/core/base';
import { dftLoss, nllLoss, readMetricsSync, type LossResult, type NllInputs } from '@rxrl/loss';
import type { CausalLM } from '@rxrl/model';
import { countLossTokens, lmBatchArrays, lmBatchTensors } from '../shared/lmBatch';
import { microBatches } from '../shared/microBatches';
import { padTokenOf, trainingServices } from '../shared/trainingServices';
import { sftExamplesOf } from './sftBatch';
import type { SftExample } from './sftExamples';

/** What a custom SFT objective sees besides the micro-batch's tensors. */
export interface SftLossContext {
  /** the training step (from 1) */
  step: number;
  /** the micro-batch's examples, row i of every tensor is example i */
  examples: readonly SftExample[];
}

/**
 * The training loss of one SFT micro-batch: by default the token NLL (`nllLoss`, or
 * `dftLoss` with `sft.loss_type: dft`). Replace it (a label-smoothed NLL, an extra
 * term through composeLosses) without forking the trainer; `loss` is normalised by
 * `inputs.globalValidToks`, as the default is. `validation/loss` stays the NLL.
 */
export type SftObjective = (inputs: NllInputs, ctx: SftLossContext) => LossResult;

/**
 * Sum of the token-level NLL (or, with `lossType` dft, the probability-weighted NLL) of
 * `seqs` over `globalTokens` valid tokens (micro-batch of a global batch).
 */
export function sftMicroBatchLoss(
  model: CausalLM,
  seqs: readonly SftExample[],
  globalTokens: number,
  padTokenId: number,
  lossType: 'nll' | 'dft' | SftObjective = 'nll',
  step = 0,
) {
  const a = lmBatchArrays(seqs, padTokenId);
  const t = lmBatchTensors(a);
  const sampleMask = tf.tensor1d(seqs.map((s) => s.weight));
  const logprobs = model.tokenLogProbs(t.ids, t.attention, t.targets);
  const inputs = { logprobs, tokenMask: t.tokenMask, sampleMask, globalValidToks: globalTokens };
  const r =
    typeof lossType === 'function'
      ? lossType(inputs, { step, examples: seqs })
      : (lossType === 'dft' ? dftLoss : nllLoss)(inputs);
  tf.dispose([t.ids, t.attention, t.targets, t.tokenMask, sampleMask, logprobs]);
  return r;
}

/** Loss tokens of `seqs`, each counted with its example's weight: the global token normaliser. */
export function weightedTokens(seqs: readonly SftExample[]): number {
  return seqs.reduce((n, s) => n + s.weight * countLossTokens([s]), 0);
}

/** Options of the SFT loss nodes. */
export const sftLossOptionsSchema = z.strictObject({
  /** sequences per forward/backward pass (a recipe's `policy.train_micro_batch_size`); gradients add up over them */
  micro_batch_size: z.int().positive().default(8),
});

/**
 * An SFT loss node: for each batch (an optimizer step's sequences), forward and
 * backward over micro-batches of `micro_batch_size`, normalised by the batch's
 * weighted loss tokens, gradients added to the `update` service for the
 * `optimizer.step` node after it. Emits the loss metrics (`loss`,
 * `num_unmasked_tokens`, ...) summed over the micro-batches; the step is the
 * batch's metadata. With a `validation` service (a validation graph) it scores the
 * batch without gradients and emits the same sums, updating nothing.
 */
export function sftLossStage(
  name: string,
  description: string,
  lossType: 'nll' | 'dft' | SftObjective,
): StageDefinition<typeof sftLossOptionsSchema> {
  return defineStage({
    name,
    description,
    schema: sftLossOptionsSchema,
    requires: [COLUMNS.inputTokens, COLUMNS.lossMask, COLUMNS.sampleMask],
    produces: [],
    create(options, context) {
      const s = trainingServices(context, name);
      const pad = padTokenOf(s.tokenizer);
      const validation = context.services['validation'] !== undefined;
      return map((batch) => {
        const step = batchStep(batch);
        const examples = sftExamplesOf(batch);
        const globalTokens = weightedTokens(examples);
        const mbs = microBatches(examples, options.micro_batch_size);
        const loss = (mb: readonly SftExample[]) =>
          sftMicroBatchLoss(s.policy, mb, globalTokens, pad, lossType, step);
        if (validation) {
          // validation: the loss metrics without gradients, summed over the micro-batches
          const sums: Record<string, number> = {};
          for (const mb of mbs)
            for (const [k, v] of Object.entries(readMetricsSync(tf.tidy(() => loss(mb).metrics))))
              sums[k] = (sums[k] ?? 0) + v;
          context.emit(sums);
          return batch;
        }
        context.emit(
          s.update.accumulate({ model: s.policy, optimizer: s.optimizer, microBatches: mbs, loss }),
        );
        return batch;
      });
    },
  });
}

/** `loss.nll`: the token NLL over the global batch's loss tokens (NeMo RL's NLLLoss). */
export const nllLossStage = sftLossStage(
  'loss.nll',
  "token NLL of the loss tokens, normalised over the step's batch",
  'nll',
);

/** `loss.dft`: dynamic fine-tuning, each token's NLL weighted by its detached probability. */
export const dftLossStage = sftLossStage(
  'loss.dft',
  'probability-weighted token NLL (DFT), normalised like loss.nll',
  'dft',
);
