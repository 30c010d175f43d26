import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from '@rxrl/model';
import { AdamW } from '@rxrl/optimizer';

/** Everything one training step needs, built once per measurement. */
export interface TrainStepRig {
  model: CausalLM;
  optimizer: AdamW;
  ids: tf.Tensor2D;
  targets: tf.Tensor2D;
  dispose(): void;
}

/** A model's AdamW (torch defaults: betas 0.9/0.999, eps 1e-8; lr 1e-4, weight decay 0.01). */
export function benchOptimizer(model: CausalLM): AdamW {
  return new AdamW(Object.fromEntries(model.trainableVariables()), {
    lr: 1e-4,
    weight_decay: 0.01,
  });
}

/** Mean next-token NLL of `targets` — the loss both this bench and bench_torch.py train on. */
export function nllLoss(model: CausalLM, ids: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar {
  return tf.neg(tf.mean(model.tokenLogProbs(ids, null, targets))) as tf.Scalar;
}

/** Gradients of the NLL by variable name; the caller disposes them. */
export function lossGrads(rig: TrainStepRig): Record<string, tf.Tensor> {
  const { value, grads } = rig.model.variableGrads(() => nllLoss(rig.model, rig.ids, rig.targets));
  value.dispose();
  return Object.fromEntries(grads);
}

/**
 * One full training step: forward, token log-prob NLL, backward through
 * `model.variableGrads`, AdamW update. Ends with a read of one updated weight
 * so the timing includes all queued work.
 */
export async function trainStep(rig: TrainStepRig): Promise<void> {
  const grads = lossGrads(rig);
  rig.optimizer.step(grads);
  for (const g of Object.values(grads)) g.dispose();
  await rig.model.variables().get('model.norm.weight')!.data();
}
