import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@rxrl/core';
import { clippedPgLoss, dpoLoss, readMetrics } from '@rxrl/loss';

await useBackend('wasm');

// GRPO step on two completions of three tokens (NeMo RL's published PPO case in row 0)
const { loss, metrics } = tf.tidy(() =>
  clippedPgLoss(
    { ratio_clip_min: 0.2, ratio_clip_max: 0.28, reference_policy_kl_penalty: 0.01 },
    {
      currLogprobs: tf.tensor2d([
        [Math.log(0.5), 0, Math.log(1.5)],
        [-0.2, -0.4, 0],
      ]),
      prevLogprobs: tf.tensor2d([
        [0, 0, 0],
        [-0.25, -0.35, 0],
      ]),
      refLogprobs: tf.tensor2d([
        [-0.1, 0, 0.2],
        [-0.2, -0.5, 0],
      ]),
      advantages: tf.tensor1d([1, -0.5]),
      tokenMask: tf.tensor2d([
        [1, 1, 1],
        [1, 1, 0],
      ]),
    },
  ),
);
console.log('grpo loss', (await loss.data())[0], await readMetrics(metrics));
loss.dispose();

// DPO (NeMo RL semantics) mixing two TRL variants
const dpo = tf.tidy(() =>
  dpoLoss(
    {
      reference_policy_kl_penalty: 0.1,
      loss_type: ['sigmoid', 'ipo'],
      loss_weights: [1, 0.5],
      sft_loss_weight: 0.2,
    },
    {
      policyChosenLogps: tf.tensor1d([-12, -8]),
      policyRejectedLogps: tf.tensor1d([-15, -7]),
      referenceChosenLogps: tf.tensor1d([-13, -8.5]),
      referenceRejectedLogps: tf.tensor1d([-14, -7.2]),
      chosenLengths: tf.tensor1d([6, 4]),
      rejectedLengths: tf.tensor1d([7, 3]),
    },
  ),
);
console.log('dpo', await readMetrics(dpo.metrics));
dpo.loss.dispose();

// gradient of the GRPO loss w.r.t. the policy log-probs (kernel gradients come from @rxrl/core)
const grad = tf.tidy(() =>
  tf.grad(
    (x: tf.Tensor) =>
      clippedPgLoss(
        { reference_policy_kl_penalty: 0 },
        {
          currLogprobs: x as tf.Tensor2D,
          prevLogprobs: tf.tensor2d([[0, 0, 0]]),
          advantages: tf.tensor1d([1]),
          tokenMask: tf.tensor2d([[1, 1, 1]]),
        },
      ).loss,
  )(tf.tensor2d([[Math.log(0.5), 0, Math.log(1.5)]])),
);
console.log('d loss / d logprobs', await grad.array()); // [[-1/6, -1/3, 0]]: −A·r/3 per token; r = 1.5 > 1.2 is clipped (A > 0), r = 0.5 is not
grad.dispose();
