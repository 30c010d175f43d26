/**
 * Hybrid DPO + GRPO: every step optimises one composed objective,
 *   loss = w_dpo(step)·DPO(preference pairs) + w_grpo(step)·clipped-PG(fresh groups),
 * with the DPO weight decaying linearly while the GRPO weight rises. It plugs into
 * DpoTrainer's `objective` hook: the trainer brings the pairs, the frozen reference,
 * micro-batching, clipping and the AdamW step; before each step the step's arithmetic
 * prompts go through the GRPO graph — `rollout.generate → reward.math →
 * grouping.advantages`, the registered stages a GRPO recipe names, built and subscribed
 * once for the run — and the objective adds the clipped policy-gradient term of the
 * groups that come out. Held-out math accuracy (greedy) and preference
 * accuracy / margin are printed before and after.
 *
 *   node --import tsx examples/hybrid_dpo_grpo.ts
 */
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@rxrl/core';
import { COLUMNS, readFloat32Column, readListColumn, withBatchMeta } from '@rxrl/core/base';
import { clippedPgLoss, composeLosses, dpoLoss, linearSchedule, stopGradient } from '@rxrl/loss';
import { buildGraph, openGraphSession } from '@rxrl/pipeline';
import { mathReward } from '@rxrl/reward';
import { generate } from '@rxrl/rollout';
import {
  buildOptimizer,
  builtinStageRegistry,
  completionLogprobs,
  datasetRows,
  dpoDataSchema,
  DpoTrainer,
  grpoDataSchema,
  grpoSchema,
  loadPolicy,
  loadPromptSets,
  policyBatch,
  GRPO_SOURCE_COLUMNS,
  policySchema,
  preferencePairs,
  promptBatch,
  type PolicyBatch,
  type PromptSet,
} from '@rxrl/algorithms';
import { exampleSteps } from './isMain';

const STEPS = exampleSteps(20);
const PROMPTS = 16; // GRPO prompts per step
const GROUP = 8; // completions per prompt
const PAIRS = 32; // DPO pairs per step (one micro-batch, so the GRPO term is added once per step)
const BETA = 0.1;
const TASK = { operators: ['+', '-'], min_digits: 1, max_digits: 2, seed: 0 }; // the SFT policy's task
const dpoWeight = linearSchedule({ start: 1, end: 0, end_step: STEPS });
const grpoWeight = linearSchedule({ start: 0, end: 1, end_step: STEPS });

await selectBackend('wasm');
const policy = await loadPolicy(policySchema.parse({ model_name: 'models/arith-sft' }), 1);
const { model, tokenizer } = policy;
const verify = mathReward({ correct_reward: 1, incorrect_reward: 0 });

// Data: arithmetic prompts for GRPO, preference pairs (right answer vs a near miss) for DPO.
const prompts = await loadPromptSets(
  {
    data: grpoDataSchema.parse({ arithmetic: TASK, num_train_prompts: PROMPTS * STEPS }),
    grpo: grpoSchema.parse({ max_val_samples: 256 }),
  },
  tokenizer,
);
const dpoData = dpoDataSchema.parse({
  arithmetic: TASK,
  num_train_examples: PAIRS * (STEPS + 1),
  num_val_examples: 128,
});
const rows = await datasetRows(dpoData, 'preference');
const trainPairs = preferencePairs(tokenizer, rows.train, dpoData, 32).pairs;
const valPairs = preferencePairs(tokenizer, rows.val, dpoData, 32).pairs;

/** Greedy exact-match accuracy of the policy on held-out prompts. */
async function heldOutAccuracy(set: PromptSet): Promise<number> {
  const out = await generate(model, tokenizer, set.tokens, { temperature: 0, max_new_tokens: 5 });
  const ok = out.map((s) =>
    verify({ prompt: '', completion: s.completionText, answer: set.answer[s.promptIndex] }),
  );
  return ok.filter((v) => v === 1).length / out.length;
}

/** One step's GRPO rollouts: a policy batch, generation log-probs, group-normalised advantages. */
interface Rollout {
  pb: PolicyBatch;
  gen: Float32Array;
  adv: Float32Array;
  reward: number;
}

// The GRPO half as a graph of registered stages (what a recipe's `graph:` names), built
// and subscribed once; each step's prompt batch goes in tagged with its step, which
// seeds the sampling.
const grpoGraph = openGraphSession(
  buildGraph(
    [
      {
        stage: 'rollout.generate',
        options: { temperature: 1, max_new_tokens: 5, num_generations_per_prompt: GROUP, seed: 1 },
      },
      { stage: 'reward.math', options: { correct_reward: 1, incorrect_reward: 0 } },
      { stage: 'grouping.advantages', options: { scale_rewards: 'group' } },
    ],
    { services: { policy: model, tokenizer }, emit: () => {} },
    { registry: builtinStageRegistry(), sourceColumns: GRPO_SOURCE_COLUMNS },
  ),
);

async function rollout(step: number): Promise<Rollout> {
  const ids = Array.from({ length: PROMPTS }, (_, i) => (step - 1) * PROMPTS + i);
  const out = await grpoGraph.push(
    withBatchMeta(promptBatch(prompts.train, ids), { step, round: 0 }),
  );
  const pb = policyBatch(
    Array.from({ length: out.numRows }, (_, i) => i),
    readListColumn(out, COLUMNS.promptTokens, 'int32'),
    readListColumn(out, COLUMNS.completionTokens, 'int32'),
    tokenizer.padTokenId ?? 0,
  );
  const gen = readListColumn(out, COLUMNS.genLogprobs, 'float32');
  const rewards = readFloat32Column(out, COLUMNS.reward);
  return {
    pb,
    gen: pb.align(gen.values, gen.offsets),
    adv: Float32Array.from(readFloat32Column(out, COLUMNS.advantage)),
    reward: rewards.reduce((a, b) => a + b, 0) / rewards.length,
  };
}

let current: Rollout | null = null;
const reference = model.frozenCopy();
const optimizer = buildOptimizer(model, {
  // 1e-4: at 5e-4 even plain GRPO (runGrpo, same sizes) loses held-out accuracy within 20 steps
  optimizer: { name: 'torch.optim.AdamW', kwargs: { lr: 1e-4, weight_decay: 0 } },
  scheduler: { name: 'constant' },
});
const trainer = new DpoTrainer({
  model,
  reference,
  tokenizer,
  optimizer,
  policy: { train_global_batch_size: PAIRS, train_micro_batch_size: PAIRS, max_grad_norm: 1 },
  val: { val_batches: null, val_global_batch_size: 128, val_micro_batch_size: 128 },
  loss: { reference_policy_kl_penalty: BETA },
  trainPairs,
  valPairs,
  seed: 1,
  // The hybrid objective; validation scores the plain DPO loss on held-out pairs.
  objective: (inputs, ctx) => {
    const dpo = dpoLoss({ reference_policy_kl_penalty: BETA }, inputs);
    if (ctx.validation || !current) return dpo;
    const { pb, gen, adv } = current;
    const curr = completionLogprobs(model, pb);
    const grpo = clippedPgLoss(
      { ratio_clip_min: 0.2, ratio_clip_max: 0.2, reference_policy_kl_penalty: 0 },
      {
        currLogprobs: curr,
        prevLogprobs: stopGradient(curr) as tf.Tensor2D, // one update per rollout: π_old = π_θ
        generationLogprobs: tf.tensor2d(gen, [pb.rows, pb.width]),
        advantages: tf.tensor1d(adv),
        tokenMask: tf.tensor2d(pb.tokenMask, [pb.rows, pb.width]),
      },
    );
    return composeLosses(
      { dpo: { result: dpo, weight: dpoWeight }, grpo: { result: grpo, weight: grpoWeight } },
      { step: ctx.step },
    );
  },
});

const before = {
  math: await heldOutAccuracy(prompts.validation),
  ...(await trainer.validate(0)).metrics,
};
let step = 0;
const t0 = performance.now();
for await (const batch of trainer.sampler.batches(0, 0)) {
  if (step === STEPS) break;
  step++;
  current = await rollout(step);
  const m = (await trainer.trainStep(batch, step)).metrics;
  const f = (k: string, d = 4) => (m[`train/${k}`] ?? NaN).toFixed(d);
  console.log(
    `step ${step}: loss ${f('loss')} = ${f('dpo/weight', 3)}·dpo/loss ${f('dpo/loss')} + ${f('grpo/weight', 3)}·grpo/loss ${f('grpo/loss')}` +
      ` | dpo/accuracy ${f('dpo/accuracy', 3)}, dpo/reward_gap ${f('dpo/reward_gap', 3)}` +
      ` | grpo reward ${current.reward.toFixed(3)}, grpo/probs_ratio ${f('grpo/probs_ratio', 3)}`,
  );
}
const seconds = (performance.now() - t0) / 1000;
const after = {
  math: await heldOutAccuracy(prompts.validation),
  ...(await trainer.validate(step)).metrics,
};
const v = (m: Record<string, number>, k: string) => m[`validation/${k}`]!.toFixed(3);
console.log(`${step} hybrid steps in ${seconds.toFixed(1)} s`);
console.log(
  `held-out math accuracy (greedy, ${prompts.validation.tokens.length} prompts): ${before.math.toFixed(3)} -> ${after.math.toFixed(3)}`,
);
console.log(
  `held-out preference accuracy ${v(before, 'accuracy')} -> ${v(after, 'accuracy')}, reward margin ${v(before, 'reward_margin')} -> ${v(after, 'reward_margin')}`,
);
grpoGraph.close();
optimizer.dispose();
reference.dispose();
model.dispose();
