/**
 * One GRPO step on a real-size model through rxrl's own path: the Qwen2.5-0.5B
 * GSM8K recipe (configs/grpo_qwen2.5-0.5b_gsm8k.yaml) pointed at the model
 * directory and shrunk to the bench's shapes, its GrpoTrainer's `trainStep`
 * running the recipe's graph (generate → math reward → group advantages) and
 * the clipped policy-gradient update. Phase times are the step's own `timing/…`
 * metrics; prompts are random token ids of one length so both sides see the
 * same shapes (the verifier rewards every completion 0: timing only).
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '@rxrl/core/base';
import { applyOverrides, loadRecipe } from '@rxrl/config';
import {
  GrpoTrainer,
  buildOptimizer,
  grpoSections,
  loadPolicy,
  policyModelConfig,
  promptBatch,
  trainingRunMemory,
  type GrpoConfig,
  type PromptSet,
} from '@rxrl/algorithms';
import { estimateRunMemory } from '@rxrl/model';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const RECIPE = path.join(ROOT, 'configs/grpo_qwen2.5-0.5b_gsm8k.yaml');

/** The shapes of the step (the same fields torch_real.py's `grpo` mode reads). */
export interface GrpoSpec {
  /** prompts per step */
  prompts: number;
  /** samples per prompt (the group) */
  generations: number;
  /** prompt length in tokens */
  prompt: number;
  /** tokens sampled per row at temperature 1 (EOS ignored, so every row has them all) */
  new_tokens: number;
  /** loss_fn.reference_policy_kl_penalty: > 0 adds the π_ref log-prob pass */
  kl: number;
  /** measured steps after one warm-up step (default 1) */
  iters?: number;
  /** policy.activation_checkpointing (default true, as the recipe) */
  checkpointing?: boolean;
}

/** The phases of a step, each the median over the measured steps, in seconds. */
export interface GrpoPhases {
  generation: number;
  logprobs: number;
  loss_backward: number;
  optimizer: number;
  /** reward, advantages, batch assembly and metrics: the step's wall time less the four */
  other: number;
  total: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Times `iters` GRPO steps after one warm-up (which also creates the AdamW moments). */
export async function grpoStep(
  dir: string,
  spec: GrpoSpec,
  backend: string,
): Promise<{ load_s: number; phases: GrpoPhases; estimate: number; steps: number }> {
  const rows = spec.prompts * spec.generations;
  const loaded = applyOverrides(loadRecipe(RECIPE), [
    `policy.model_name=${dir}`,
    `grpo.num_prompts_per_step=${spec.prompts}`,
    `grpo.num_generations_per_prompt=${spec.generations}`,
    'grpo.use_dynamic_sampling=false',
    // one update of one micro-batch per rollout: π_old is the policy itself, no extra pass
    `policy.train_global_batch_size=${rows}`,
    `policy.train_micro_batch_size=${rows}`,
    `policy.activation_checkpointing=${spec.checkpointing ?? true}`,
    `policy.generation.max_new_tokens=${spec.new_tokens}`,
    `policy.generation.generation_batch_size=${rows}`,
    'policy.generation.temperature=1',
    'policy.generation.ignore_eos=true',
    `data.max_input_seq_length=${spec.prompt}`,
    `loss_fn.reference_policy_kl_penalty=${spec.kl}`,
  ]);
  const config: GrpoConfig = grpoSections.validate(loaded);
  // what `rxrl grpo` estimates before it loads anything
  const modelConfig = await policyModelConfig(config.policy, ROOT);
  const estimate = estimateRunMemory(
    modelConfig,
    trainingRunMemory('grpo', config, backend, modelConfig),
  ).totalBytes;

  const t0 = performance.now();
  const policy = await loadPolicy(config.policy, config.seed, ROOT);
  const load_s = (performance.now() - t0) / 1000;
  const optimizer = buildOptimizer(policy.model, config.policy);
  const rng = new Rng(0);
  const steps = spec.iters ?? 1;
  // fresh prompts every step, as in a run
  const prompts: PromptSet = { tokens: [], text: [], answer: [] };
  for (let i = 0; i < (steps + 1) * spec.prompts; i++) {
    prompts.tokens.push(
      Int32Array.from({ length: spec.prompt }, () => rng.int(modelConfig.vocabSize)),
    );
    prompts.text.push('');
    prompts.answer.push('0');
  }
  const trainer = new GrpoTrainer({
    config,
    model: policy.model,
    tokenizer: policy.tokenizer,
    optimizer,
    validation: prompts,
  });
  const samples: GrpoPhases[] = [];
  try {
    for (let step = 0; step <= steps; step++) {
      const batch = promptBatch(
        prompts,
        Array.from({ length: spec.prompts }, (_, i) => step * spec.prompts + i),
      );
      const start = performance.now();
      const { metrics } = await trainer.trainStep(batch, step + 1);
      const total = (performance.now() - start) / 1000;
      if (step === 0) continue;
      const m = (k: string) => {
        const v = metrics[`timing/${k}`];
        if (v === undefined) throw new Error(`grpo step: no timing/${k} metric`);
        return v;
      };
      const phases = {
        generation: m('generation_s'),
        logprobs: m('policy_and_reference_logprobs'),
        loss_backward: m('loss_and_backward'),
        optimizer: m('optimizer_step'),
      };
      const parts = Object.values(phases).reduce((a, b) => a + b, 0);
      samples.push({ ...phases, other: total - parts, total });
    }
  } finally {
    trainer.dispose();
    optimizer.dispose();
    policy.model.dispose();
  }
  const keys = Object.keys(samples[0]!) as (keyof GrpoPhases)[];
  const phases = Object.fromEntries(
    keys.map((k) => [k, median(samples.map((s) => s[k]))]),
  ) as unknown as GrpoPhases;
  return { load_s, phases, estimate, steps: samples.length };
}
