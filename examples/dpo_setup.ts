/**
 * Shared set-up of the DPO examples: the shipped SFT policy (models/arith-sft) as
 * policy and frozen reference, built-in arithmetic preference pairs, and a short
 * loop over DpoTrainer with a custom objective. Not an example by itself.
 */
import { selectBackend } from '@rxrl/core';
import { dpoLoss } from '@rxrl/loss';
import {
  buildOptimizer,
  datasetRows,
  dpoDataSchema,
  DpoTrainer,
  loadPolicy,
  policySchema,
  preferencePairs,
  type DpoObjective,
  type PreferencePair,
} from '@rxrl/algorithms';

export interface DpoExampleOptions {
  /** the objective under test (undefined: stock dpoLoss) */
  objective?: DpoObjective;
  /** β of the stock objective (and the validation objective) */
  beta?: number;
  steps?: number;
  /** pairs per step */
  batch?: number;
  lr?: number;
  /** rewrite the training pairs (e.g. flip some labels) */
  mapTrain?: (pairs: PreferencePair[]) => PreferencePair[];
  log?: (step: number, metrics: Record<string, number>) => void;
}

/** Train the shipped SFT policy with DPO for a few steps; held-out (stock dpoLoss) metrics before and after. */
export async function runDpoExample(o: DpoExampleOptions = {}) {
  await selectBackend('wasm');
  const policy = await loadPolicy(
    policySchema.parse({ model_name: process.env['RXRL_EXAMPLE_MODEL'] ?? 'models/arith-sft' }),
    1,
  );
  const reference = policy.model.frozenCopy();
  const data = dpoDataSchema.parse({
    arithmetic: { operators: ['+', '-'], max_digits: 2 },
    num_train_examples: 512,
    num_val_examples: 128,
  });
  const rows = await datasetRows(data, 'preference');
  const train = preferencePairs(policy.tokenizer, rows.train, data, 32).pairs;
  const val = preferencePairs(policy.tokenizer, rows.val, data, 32).pairs;
  const batch = o.batch ?? 16;
  const optimizer = buildOptimizer(policy.model, {
    optimizer: { name: 'torch.optim.AdamW', kwargs: { lr: o.lr ?? 1e-4, weight_decay: 0 } },
    scheduler: { name: 'constant' },
  });
  const beta = o.beta ?? 0.1;
  const trainer = new DpoTrainer({
    model: policy.model,
    reference,
    tokenizer: policy.tokenizer,
    optimizer,
    policy: { train_global_batch_size: batch, train_micro_batch_size: batch, max_grad_norm: 1 },
    val: { val_batches: null, val_global_batch_size: 128, val_micro_batch_size: 128 },
    loss: { reference_policy_kl_penalty: beta },
    // validation always scores with the stock loss, so variants compare on one yardstick
    objective: o.objective
      ? (inputs, ctx) =>
          ctx.validation
            ? dpoLoss({ reference_policy_kl_penalty: beta }, inputs)
            : o.objective!(inputs, ctx)
      : undefined,
    trainPairs: o.mapTrain ? o.mapTrain(train) : train,
    valPairs: val,
    seed: 1,
  });
  const before = (await trainer.validate(0)).metrics;
  let step = 0;
  for await (const batch of trainer.sampler.batches(0, 0)) {
    if (++step > (o.steps ?? 10)) break;
    const metrics = (await trainer.trainStep(batch, step)).metrics;
    o.log?.(step, metrics);
  }
  const after = (await trainer.validate(step - 1)).metrics;
  optimizer.dispose();
  reference.dispose();
  policy.model.dispose();
  return { before, after, train, val };
}

/** `accuracy 0.500 -> 0.812, margin 0.00 -> 1.23` from validation metrics. */
export function summary(before: Record<string, number>, after: Record<string, number>): string {
  const f = (m: Record<string, number>, k: string, d: number) => m[`validation/${k}`]!.toFixed(d);
  return `held-out preference accuracy ${f(before, 'accuracy', 3)} -> ${f(after, 'accuracy', 3)}, reward margin ${f(before, 'reward_margin', 3)} -> ${f(after, 'reward_margin', 3)}`;
}
