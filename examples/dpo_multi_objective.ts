/**
 * Multi-objective DPO: the preference loss, an SFT term on the chosen answers,
 * and a user-written term (a k2 KL estimate to the reference on the chosen
 * tokens, ½·E[(log π − log π_ref)²]), summed by composeLosses with their own
 * weights; the KL weight ramps up linearly over the run. Every term's metrics
 * come back under its name (`train/preference/loss`, `train/sft/loss`,
 * `train/kl/loss`, and each `…/weight`).
 *
 *   node --import tsx examples/dpo_multi_objective.ts
 */
import * as tf from '@tensorflow/tfjs-core';
import { composeLosses, dpoLoss, linearSchedule, nllLoss, type LossResult } from '@rxrl/loss';
import type { DpoObjective } from '@rxrl/algorithms';
import { runDpoExample, summary } from './dpo_setup';
import { exampleSteps, isMain } from './isMain';

const STEPS = 15;

/**
 * The user's term: k2 KL estimate on the chosen tokens, a token mean over the global
 * batch (summed here, divided by the global chosen-token count) so the micro-batches
 * of a step add up to the batch's value (a per-micro-batch mean would count each
 * micro-batch as a batch: the test harness's micro-batching check catches that).
 */
function chosenK2(
  logp: tf.Tensor2D,
  ref: tf.Tensor2D,
  mask: tf.Tensor2D,
  globalTokens: number,
): LossResult {
  const sum = tf.sum(tf.mul(tf.div(tf.square(tf.sub(logp, ref)), 2), mask));
  const loss = tf.div(sum, Math.max(1, globalTokens)) as tf.Scalar;
  return { loss, metrics: { loss: tf.clone(loss) as tf.Scalar } };
}

/** preference + 0.1·SFT + w(step)·k2-KL, w ramping 0 → 1 over `steps`. */
export function multiObjective(steps: number): DpoObjective {
  const klWeight = linearSchedule({ start: 0, end: 1, end_step: steps });
  return (inputs, ctx) =>
    composeLosses(
      {
        preference: { result: dpoLoss({ reference_policy_kl_penalty: 0.1 }, inputs) },
        sft: {
          result: nllLoss({
            logprobs: inputs.policyChosenLogps as tf.Tensor2D,
            tokenMask: inputs.chosenMask!,
            globalValidToks: inputs.globalChosenToks,
          }),
          weight: 0.1,
        },
        kl: {
          result: chosenK2(
            inputs.policyChosenLogps as tf.Tensor2D,
            inputs.referenceChosenLogps as tf.Tensor2D,
            inputs.chosenMask!,
            inputs.globalChosenToks!,
          ),
          weight: klWeight,
        },
      },
      { step: ctx.step },
    );
}

if (isMain(import.meta.url)) {
  const steps = exampleSteps(STEPS);
  const r = await runDpoExample({
    steps,
    objective: multiObjective(steps),
    log: (step, m) => {
      if (step % 5 === 0 || step === 1) {
        const f = (k: string) => (m[`train/${k}`] ?? NaN).toFixed(4);
        console.log(
          `step ${step}: total ${f('loss')} = preference ${f('preference/loss')} + ${f('sft/weight')}·sft ${f('sft/loss')} + ${f('kl/weight')}·kl ${f('kl/loss')}`,
        );
      }
    },
  });
  console.log(`multi-objective DPO: ${summary(r.before, r.after)}`);
}
