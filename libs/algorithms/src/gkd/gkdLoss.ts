import * as tf from '@tensorflow/tfjs-core';
import { gkdLoss, type GkdInputs, type LossResult } from '@rxrl/loss';
import type { CausalLM } from '@rxrl/model';
import { lmBatchArrays, lmBatchTensors, type LmSequence } from '../shared/lmBatch';
import type { GkdOptions } from './gkdOptions';

/** A sequence with a training weight (0 drops it, as SFT's over-length examples). */
export type Weighted = LmSequence & { weight: number };

/** The weighted loss tokens of `seqs` (after the next-token shift): GKD's global normaliser. */
export function lossTokens(seqs: readonly Weighted[]): number {
  let n = 0;
  for (const s of seqs) {
    if (s.weight === 0) continue;
    for (let t = 1; t < s.mask.length; t++) if (s.mask[t]) n += s.weight;
  }
  return n;
}

/**
 * The teacher's logits `[N, V]` at every next-token position of `seqs` (N = batch · length),
 * computed outside any gradient tape: they are constants of the student's loss.
 */
export function teacherLogits(teacher: CausalLM, seqs: readonly LmSequence[], pad: number) {
  const a = lmBatchArrays(seqs, pad);
  return tf.tidy(() => {
    const t = lmBatchTensors(a);
    return tf.reshape(teacher.logits(t.ids, t.attention), [
      a.batch * a.seqLen,
      teacher.config.vocabSize,
    ]) as tf.Tensor2D;
  });
}

/**
 * GKD's loss of one micro-batch: the generalised JSD between the student's and the
 * teacher's next-token distributions at the sequences' loss tokens, summed over them and
 * divided by the global batch's count (`globalTokens`), so micro-batches add up.
 */
/** What a custom GKD objective sees besides the micro-batch's logits. */
export interface GkdLossContext {
  /** the training step (from 1; 0 in validation) */
  step: number;
  /** the recipe's `gkd.beta` and `gkd.temperature` */
  options: Pick<GkdOptions, 'beta' | 'temperature'>;
}

/**
 * The loss of one GKD micro-batch: by default `gkdLoss(options, inputs)`. Replace it to
 * change the distillation objective (another divergence, an extra term through
 * composeLosses) without forking the trainer; `loss` is normalised by the batch's
 * weighted loss tokens (`inputs.globalValidToks`), as the default is.
 */
export type GkdObjective = (inputs: GkdInputs, ctx: GkdLossContext) => LossResult;

export function gkdMicroBatchLoss(
  student: CausalLM,
  seqs: readonly Weighted[],
  teacher: tf.Tensor2D,
  globalTokens: number,
  pad: number,
  o: Pick<GkdOptions, 'beta' | 'temperature'>,
  objective?: GkdObjective,
  step = 0,
) {
  const a = lmBatchArrays(seqs, pad);
  const t = lmBatchTensors(a);
  const n = a.batch * a.seqLen;
  const weights = new Float32Array(n);
  seqs.forEach((s, b) => {
    for (let i = 0; i < a.seqLen; i++)
      weights[b * a.seqLen + i] = a.tokenMask[b * a.seqLen + i]! * s.weight;
  });
  const mask = tf.tensor1d(weights);
  const logits = tf.reshape(student.logits(t.ids, t.attention), [
    n,
    student.config.vocabSize,
  ]) as tf.Tensor2D;
  const inputs = {
    studentLogits: logits,
    teacherLogits: teacher,
    tokenMask: mask,
    globalValidToks: globalTokens,
  };
  const options = { beta: o.beta, temperature: o.temperature };
  const r = objective ? objective(inputs, { step, options }) : gkdLoss(options, inputs);
  tf.dispose([t.ids, t.attention, t.targets, t.tokenMask, mask, logits]);
  return r;
}
