/**
 * DPO with a correctness bonus on the chosen reward. Two in five training
 * labels are flipped (the wrong answer marked "chosen"), as a noisy judge would.
 * Each completion's reward gets a verifier bonus b·1[correct] on top of the
 * judge's preference (chosen 1, rejected 0); with b > 1 the bonus decides the
 * order, so the objective trains toward the verified answer. Only the objective
 * changes: it swaps the pair's sides where the bonus says so, then calls dpoLoss.
 * Held-out pairs (clean labels) are scored with the stock loss for both runs.
 *
 *   node --import tsx examples/dpo_correctness_bonus.ts
 */
import * as tf from '@tensorflow/tfjs-core';
import { dpoLoss } from '@rxrl/loss';
import type { PreferencePair } from '@rxrl/algorithms';
import { runDpoExample, summary } from './dpo_setup';
import { exampleSteps } from './isMain';

const BETA = 0.1;
const BONUS = 2;
/** whether a pair's chosen side is the verified (correct) answer: the verifier's view */
const chosenCorrect = new WeakMap<PreferencePair, boolean>();

const flipTwoInFive = (pairs: PreferencePair[]) =>
  pairs.map((p, i) => {
    const flipped = i % 5 < 2;
    const q = flipped ? { ...p, chosen: p.rejected, rejected: p.chosen } : p;
    chosenCorrect.set(q, !flipped);
    return q;
  });

const plain = await runDpoExample({
  beta: BETA,
  steps: exampleSteps(20),
  lr: 2e-4,
  mapTrain: flipTwoInFive,
});
console.log(`plain DPO on 2/5 flipped labels:   ${summary(plain.before, plain.after)}`);

const bonus = await runDpoExample({
  beta: BETA,
  steps: exampleSteps(20),
  lr: 2e-4,
  mapTrain: flipTwoInFive,
  objective: (inputs, ctx) => {
    // reward(c) = 1 + b·1[c correct], reward(r) = 0 + b·1[r correct]; train toward the larger one
    const swap = ctx.pairs.map((p) => {
      const ok = chosenCorrect.get(p) ?? true;
      return 1 + BONUS * (ok ? 1 : 0) < BONUS * (ok ? 0 : 1);
    });
    const s = tf.tensor1d(swap.map(Number));
    const sum = (lp: tf.Tensor, mask: tf.Tensor) => tf.sum(tf.mul(lp, mask), 1) as tf.Tensor1D;
    // per-sequence log-probs; swapped pairs exchange sides: c' = (1 − s)·c + s·r
    const mix = (a: tf.Tensor1D, b: tf.Tensor1D) =>
      tf.add(tf.mul(a, tf.sub(1, s)), tf.mul(b, s)) as tf.Tensor1D;
    const pc = sum(inputs.policyChosenLogps, inputs.chosenMask!);
    const pr = sum(inputs.policyRejectedLogps, inputs.rejectedMask!);
    const rc = sum(inputs.referenceChosenLogps!, inputs.chosenMask!);
    const rr = sum(inputs.referenceRejectedLogps!, inputs.rejectedMask!);
    return dpoLoss(
      { reference_policy_kl_penalty: BETA },
      {
        policyChosenLogps: mix(pc, pr),
        policyRejectedLogps: mix(pr, pc),
        referenceChosenLogps: mix(rc, rr),
        referenceRejectedLogps: mix(rr, rc),
        sampleMask: inputs.sampleMask,
        globalValidPairs: inputs.globalValidPairs,
      },
    );
  },
});
console.log(`DPO + correctness bonus (b=${BONUS}):     ${summary(bonus.before, bonus.after)}`);
console.log(
  `the bonus turns ${Math.round((plain.train.length * 2) / 5)} mislabelled training pairs around; held-out accuracy ` +
    `${bonus.after['validation/accuracy']! >= plain.after['validation/accuracy']! ? 'is at least as high as' : 'is below'} plain DPO's`,
);
