import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { concatMap, lastValueFrom, of } from 'rxjs';
import type { RecordBatch } from 'apache-arrow';
import type { Stage } from '@rxrl/core/base';
import { applyOverrides, loadRecipe } from '@rxrl/config';
import {
  GRPO_SOURCE_COLUMNS,
  GrpoTrainer,
  buildOptimizer,
  grpoGraphSpec,
  splitGrpoGraph,
  grpoSections,
  loadPolicy,
  loadPromptSets,
  builtinStageRegistry,
  promptBatch,
  type GrpoConfig,
} from '@rxrl/algorithms';
import { buildGraph, validateGraph } from '@rxrl/pipeline';
import type { BenchCase, BenchRecord } from '../benchCase';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const RECIPE = path.join(ROOT, 'configs/grpo_arithmetic.yaml');

/** The parts of a step, in the order they run; `training` is the trainer's own `timing/policy_training`. */
const PARTS = ['generation', 'reward', 'advantages', 'training'] as const;
type Part = (typeof PARTS)[number];
/** The graph node each rollout-side part times. */
const STAGE_OF: Record<string, Exclude<Part, 'training'>> = {
  'rollout.generate': 'generation',
  'reward.math': 'reward',
  'grouping.advantages': 'advantages',
};

/** One policy the case runs the recipe's step on: its name in the records and the recipe overrides that load it. */
interface StepSetup {
  preset: string;
  overrides: string[];
}

const SETUPS: StepSetup[] = [
  // the shipped recipe as is: the SFT'd tiny llama (vocab 103)
  { preset: 'arith-sft', overrides: [] },
  // the `small` llama preset, random init, on the same prompts: per-op overhead weighs less
  {
    preset: 'small',
    overrides: [
      'policy.model_name=null',
      'policy.tokenizer.name=builtin',
      'policy.init.arch=llama',
      'policy.init.preset=small',
    ],
  },
];

/** --quick: 8 prompts per step instead of 32 (group size, completion length and model stay). */
const QUICK_OVERRIDES = [
  'grpo.num_prompts_per_step=8',
  'policy.train_global_batch_size=64',
  'policy.train_micro_batch_size=64',
];

/**
 * The recipe's per-step graph built one registered stage per node, each wrapped
 * to add its wall time to `times`: the same stages, options and services the
 * trainer's own graph has, so the step runs exactly as in `rxrl grpo`.
 */
function timedGraph(config: GrpoConfig, services: Record<string, unknown>, times: Map<Part, number>): Stage {
  const registry = builtinStageRegistry();
  const context = { services, emit: () => {} };
  const available: string[] = [...GRPO_SOURCE_COLUMNS];
  const stages = splitGrpoGraph(grpoGraphSpec(config)).rollout.map((node) => {
    const part = STAGE_OF[node.stage];
    if (!part) throw new Error(`grpo_step: no part for graph stage '${node.stage}'`);
    const stage = buildGraph([node], context, { sourceColumns: available, registry });
    available.push(
      ...validateGraph([node], { sourceColumns: available, registry }).flatMap((n) => n.produces),
    );
    return concatMap(async (batch: RecordBatch) => {
      const t0 = performance.now();
      const out = await lastValueFrom(of(batch).pipe(stage));
      times.set(part, performance.now() - t0);
      return out;
    }) as Stage;
  });
  return (source) => stages.reduce((stream, stage) => stage(stream), source);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Times `steps` GRPO steps (after one warm-up step) of `setup`; one record per part, the total, and tokens/s. */
async function benchSetup(setup: StepSetup, quick: boolean, backend: string): Promise<BenchRecord[]> {
  // one generation batch per step: the parts of a dynamic-sampling step repeat per refill batch,
  // and the random-init `small` policy has no group with differing rewards to refill with
  const loaded = applyOverrides(loadRecipe(RECIPE), [
    'grpo.use_dynamic_sampling=false',
    ...setup.overrides,
    ...(quick ? QUICK_OVERRIDES : []),
  ]);
  const config: GrpoConfig = grpoSections.validate(loaded);
  const policy = await loadPolicy(config.policy, config.seed, ROOT);
  const optimizer = buildOptimizer(policy.model, config.policy);
  const prompts = await loadPromptSets(config, policy.tokenizer, ROOT);
  const steps = quick ? 1 : 5;
  const times = new Map<Part, number>();
  const trainer = new GrpoTrainer({
    config,
    model: policy.model,
    tokenizer: policy.tokenizer,
    optimizer,
    validation: prompts.validation,
    graph: timedGraph(config, { policy: policy.model, tokenizer: policy.tokenizer }, times),
  });
  const perStep = config.grpo.num_prompts_per_step;
  const samples: Record<Part | 'total' | 'other' | 'tokensPerSec', number>[] = [];
  let afterWarmup = 0;
  let longestPrompt = 0;
  try {
    for (let step = 0; step <= steps; step++) {
      // fresh prompts every step, as in a run (the arithmetic train split has thousands)
      const batch = promptBatch(
        prompts.train,
        Array.from({ length: perStep }, (_, i) => step * perStep + i),
      );
      if (step > 0)
        for (let i = 0; i < perStep; i++)
          longestPrompt = Math.max(longestPrompt, prompts.train.tokens[step * perStep + i]!.length);
      const t0 = performance.now();
      const { metrics } = await trainer.trainStep(batch, step + 1);
      const total = performance.now() - t0;
      times.set('training', metrics['timing/policy_training']! * 1000);
      // step 0 warms up the kernels and creates the AdamW moments
      if (step === 0) {
        afterWarmup = tf.memory().numTensors;
        continue;
      }
      const parts = Object.fromEntries(PARTS.map((p) => [p, times.get(p)!])) as Record<Part, number>;
      samples.push({
        ...parts,
        total,
        // batch copies between the parts, the verifier's accuracy, metrics
        other: total - PARTS.reduce((s, p) => s + parts[p], 0),
        tokensPerSec: metrics['performance/tokens_per_sec']!,
      });
    }
    const leaked = tf.memory().numTensors - afterWarmup;
    if (leaked !== 0) throw new Error(`grpo_step ${setup.preset}: ${leaked} tensors leaked`);
  } finally {
    trainer.dispose();
    optimizer.dispose();
    policy.model.dispose();
  }
  const ms = (k: Part | 'total' | 'other') => median(samples.map((s) => s[k]));
  const total = ms('total');
  const rows = config.grpo.num_prompts_per_step * config.grpo.num_generations_per_prompt;
  const shape = `${config.grpo.num_prompts_per_step} prompts × ${config.grpo.num_generations_per_prompt}, ≤ ${config.policy.generation.max_new_tokens} new tokens, micro-batch ${config.policy.train_micro_batch_size}`;
  // seq: the longest prompt + max_new_tokens, the most a training row is padded to
  const base = {
    backend,
    preset: setup.preset,
    batch: rows,
    seqLen: longestPrompt + config.policy.generation.max_new_tokens,
  };
  const parts = PARTS.map(ms);
  const other = ms('other');
  return [
    ...PARTS.map((part, i) => ({
      ...base,
      name: `grpo_step/${part}`,
      value: parts[i]!,
      unit: 'ms' as const,
      notes: `${((100 * parts[i]!) / total).toFixed(1)}% of the step`,
    })),
    {
      ...base,
      name: 'grpo_step/total',
      value: total,
      unit: 'ms',
      notes: `median of ${samples.length} after 1 warm-up; ${shape}; ${other.toFixed(0)} ms (${((100 * other) / total).toFixed(1)}%) outside the parts`,
    },
    {
      ...base,
      name: 'grpo_step',
      value: median(samples.map((s) => s.tokensPerSec)),
      unit: 'tokens/s',
      notes: `the trainer's performance/tokens_per_sec (trained + generated tokens per s)`,
    },
  ];
}

/**
 * One full GRPO step of the arithmetic recipe, broken into its parts: the
 * trainer's `trainStep` runs as in `rxrl grpo`, with its graph built from the
 * registered stages one node at a time so generation, reward and advantages are
 * timed separately; training (micro-batched forward + backward + AdamW) is the
 * trainer's own `timing/policy_training`. Per part: median ms, share of the step.
 */
export const grpoStepCase: BenchCase = {
  name: 'grpo_step',
  async run(ctx) {
    const out: BenchRecord[] = [];
    for (const setup of SETUPS) out.push(...(await benchSetup(setup, ctx.quick, ctx.backend)));
    return out;
  },
};
