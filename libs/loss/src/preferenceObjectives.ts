import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { cpoLoss, cpoLossOptionsSchema } from './cpoLoss';
import type { DpoInputs } from './dpoLoss';
import { ktoLoss, ktoLossOptionsSchema } from './ktoLoss';
import type { LossResult } from './lossResult';
import { constant, maskedMean, metric } from './masked';
import { orpoLoss, orpoLossOptionsSchema } from './orpoLoss';

/**
 * The preference objectives a DPO-style recipe can name instead of `dpoLoss`
 * (`dpo.objective: { name: orpo, beta: 0.1 }`), each with its TRL options.
 */
export const preferenceObjectiveSchema = z.discriminatedUnion('name', [
  orpoLossOptionsSchema.extend({
    /** ORPO (TRL ORPOTrainer): NLL + odds-ratio term, no reference model */
    name: z.literal('orpo'),
  }),
  cpoLossOptionsSchema.extend({
    /** CPO / SimPO (TRL CPOTrainer): reference-free pair loss + cpo_alpha·NLL */
    name: z.literal('cpo'),
  }),
  ktoLossOptionsSchema.extend({
    /** KTO on pairs (TRL KTOTrainer on paired data): chosen desirable, rejected undesirable */
    name: z.literal('kto'),
  }),
]);
export type PreferenceObjective = z.infer<typeof preferenceObjectiveSchema>;
export type PreferenceObjectiveInput = z.input<typeof preferenceObjectiveSchema>;

/** Whether the objective needs KTO's reference point z₀ from mismatched pairs (`kto` with loss_type kto). */
export function objectiveNeedsMismatchedKl(spec: PreferenceObjectiveInput): boolean {
  return spec.name === 'kto' && (spec.loss_type ?? 'kto') === 'kto';
}

/** Whether the objective needs reference-model log-probs. */
export function objectiveNeedsReference(spec: PreferenceObjectiveInput): boolean {
  return spec.name === 'kto';
}

/**
 * The loss of a named preference objective on a micro-batch of pairs, with the
 * inputs `dpoLoss` takes. KTO sees each pair as two unpaired samples (chosen
 * desirable, rejected undesirable), normalised by 2 × the global pair count,
 * and adds `accuracy` (chosen implicit reward above the rejected one); loss_type
 * kto takes its reference point z₀ from `context.klReferencePoint` (the DPO
 * trainer computes it from mismatched pairs when `objectiveNeedsMismatchedKl`).
 */
export function preferenceObjectiveLoss(
  spec: PreferenceObjectiveInput,
  inputs: DpoInputs,
  context: { klReferencePoint?: number } = {},
): LossResult {
  const s = preferenceObjectiveSchema.parse(spec);
  switch (s.name) {
    case 'orpo':
      return orpoLoss({ beta: s.beta }, inputs);
    case 'cpo':
      return cpoLoss(
        {
          beta: s.beta,
          loss_type: s.loss_type,
          label_smoothing: s.label_smoothing,
          cpo_alpha: s.cpo_alpha,
          simpo_gamma: s.simpo_gamma,
        },
        inputs,
      );
    case 'kto': {
      if (!inputs.referenceChosenLogps || !inputs.referenceRejectedLogps) {
        throw new Error('preferenceObjectiveLoss: kto needs reference log-probs');
      }
      const o = {
        beta: s.beta,
        loss_type: s.loss_type,
        desirable_weight: s.desirable_weight,
        undesirable_weight: s.undesirable_weight,
      };
      return ktoFromPairs(o, inputs, context.klReferencePoint);
    }
  }
}

function ktoFromPairs(
  options: z.infer<typeof ktoLossOptionsSchema>,
  inputs: DpoInputs,
  kl: number | undefined,
): LossResult {
  return tf.tidy(() => ktoOnPairs(options, inputs, kl));
}

function ktoOnPairs(
  options: z.infer<typeof ktoLossOptionsSchema>,
  inputs: DpoInputs,
  kl: number | undefined,
): LossResult {
  const B = inputs.policyChosenLogps.shape[0]!;
  const seq = (lp: tf.Tensor, m: tf.Tensor2D | undefined) =>
    lp.rank === 1 ? lp : m ? tf.sum(tf.mul(lp, m), -1) : lp;
  const pol = tf.concat([
    seq(inputs.policyChosenLogps, inputs.chosenMask),
    seq(inputs.policyRejectedLogps, inputs.rejectedMask),
  ]);
  const ref = tf.concat([
    seq(inputs.referenceChosenLogps!, inputs.chosenMask),
    seq(inputs.referenceRejectedLogps!, inputs.rejectedMask),
  ]);
  const sm = inputs.sampleMask ?? tf.ones([B]);
  const n = inputs.globalValidPairs;
  const result = ktoLoss(options, {
    policyLogps: pol,
    referenceLogps: ref,
    desirable: tf.concat([tf.ones([B]), tf.zeros([B])]) as tf.Tensor1D,
    sampleMask: tf.concat([sm, sm]) as tf.Tensor1D,
    globalValidSamples: n === undefined ? undefined : 2 * n,
    kl,
    globalDesirable: n,
    globalUndesirable: n,
  });
  // pairwise: how often the chosen implicit reward beats the rejected one
  const rho = constant((p, r) => tf.sub(p, r), pol, ref);
  const [c, r] = tf.split(rho, 2);
  result.metrics['accuracy'] = metric(
    () => maskedMean(tf.cast(tf.greater(c!, r!), 'float32'), sm, n),
    c!,
    r!,
    sm,
  );
  return result;
}
