import { z } from 'zod';
import { defineSections } from '@rxrl/config';
import { checkpointingSchema } from '@rxrl/checkpoint';
import { ArithmeticOptions, GrpoFormatOptions } from '@rxrl/data';
import { BUILTIN_ARITHMETIC } from '../shared/datasetSchema';
import { clippedPgLossOptionsSchema, coefficientSchedulesSchema } from '@rxrl/loss';
import { earlyStoppingSchema, graphSchema } from '@rxrl/pipeline';
import { mathRewardOptions } from '@rxrl/reward';
import { generateOptionsSchema } from '@rxrl/rollout';
import { policySchema } from '../shared/policyOptions';
import { groupingIssues, samplesPerPrompt } from './grpoGraph';

/**
 * `grpo.grouping`: the guides' group-formation keys, for `grpo.group_strategy` other than
 * `by_prompt` (run as the `grouping.form_groups` stage before the advantages).
 */
export const grpoGroupingSchema = z.strictObject({
  /** semantic grouping (also an adaptive schedule's semantic phase): a sample joins a group when its prompt embedding's cosine similarity to the group's first sample is at least this; null: spherical k-means */
  similarity_threshold: z.number().min(-1).max(1).nullable().default(null),
  /** samples per group for the strategies that cut groups themselves (random, performance, semantic, multi_criteria); null: samples per prompt */
  group_size: z.int().min(1).nullable().default(null),
  /** smallest group: smaller ones are merged into others */
  min_group_size: z.int().min(1).default(1),
  /** largest group: larger ones are split; null: no limit */
  max_group_size: z.int().min(1).nullable().default(null),
  /** more options of the strategy (libs/grouping README), e.g. adaptive's `schedule` or semantic's `max_iter` */
  options: z.record(z.string(), z.unknown()).default({}),
  /** embeddings for semantic grouping from this Hugging Face model directory (its last hidden state mean-pooled over the prompt's tokens, its own tokenizer); null: the policy's hidden states over the prompt tokens */
  embedding_model: z.string().min(1).nullable().default(null),
  /** prompt embeddings kept (least recently used dropped first); 0: recompute every time */
  embedding_cache_size: z.int().min(0).default(4096),
  /** prompts per embedding forward pass */
  embedding_micro_batch_size: z.int().min(1).default(32),
});

/** `grpo`: the loop (NeMo RL `grpo.*` key names). */
export const grpoSchema = z.strictObject({
  /** prompts sampled per step */
  num_prompts_per_step: z.int().positive().default(32),
  /** completions per prompt: the group size (at least 2: a group of one has no baseline, every advantage is 0) */
  num_generations_per_prompt: z.int().min(2).default(8),
  /** training steps in total */
  max_num_steps: z.int().positive().default(100),
  /** passes over the training prompts */
  max_num_epochs: z.int().positive().default(1),
  /** validate every N steps; 0 never */
  val_period: z.int().nonnegative().default(10),
  /** validate before the first step */
  val_at_start: z.boolean().default(true),
  /** validate after the last step when it was not a validation step */
  val_at_end: z.boolean().default(true),
  /** held-out prompts per validation */
  max_val_samples: z.int().positive().default(256),
  /** sampling temperature of validation; 0 is greedy */
  val_temperature: z.number().min(0).default(0),
  /** divide advantages by the group's reward std (NeMo RL); false: centre only (Dr. GRPO) */
  normalize_rewards: z.boolean().default(true),
  /** baseline (and std) over the other samples of the group (RLOO-style) */
  use_leave_one_out_baseline: z.boolean().default(false),
  /**
   * how samples form the groups advantages are measured in: `by_prompt` (NeMo RL: the
   * generations of one prompt), or a strategy of @rxrl/grouping — `random`,
   * `performance`, `semantic` (prompt embeddings), `multi_criteria`, `adaptive` (the guides'
   * random → performance → semantic by training progress) or one registered in code
   */
  group_strategy: z.string().min(1).default('by_prompt'),
  /** options of group_strategy (the guides' `grouping:` keys) */
  grouping: grpoGroupingSchema.prefault({}),
  /** samples that hit max_new_tokens (finish_reason length) get sample_mask 0: no loss, still in the group baseline */
  overlong_filtering: z.boolean().default(false),
  /**
   * DAPO dynamic sampling (NeMo RL semantics): groups whose rewards are all equal carry
   * no gradient and are dropped; further prompt batches are generated until
   * `num_prompts_per_step` groups with differing rewards are collected (the surplus is discarded)
   */
  use_dynamic_sampling: z.boolean().default(false),
  /** dynamic sampling: generation batches a step may use before it fails with an error */
  dynamic_sampling_max_gen_batches: z.int().positive().default(10),
  /** dynamic sampling: each generation batch has ceil(num_prompts_per_step × batch_multiplier) prompts */
  batch_multiplier: z.number().min(1).default(1),
  /** stop when a validation metric stops improving; null never */
  early_stopping: earlyStoppingSchema.nullable().default(null),
  /** generations per step written to samples.jsonl */
  num_samples_logged: z.int().nonnegative().default(4),
  /**
   * generate on a worker thread holding a copy of the policy, so a single-threaded
   * backend (wasm) uses a second core; `prefetch_batches`: prompt batches generated
   * ahead while earlier steps train, each with the weights published when it was drawn
   * (off-policy by the steps it waited, usually one, as NeMo RL's async GRPO; pair with
   * loss_fn.use_importance_sampling_correction); 0 generates on request only
   */
  generation_worker: z
    .strictObject({
      enabled: z.boolean().default(false),
      prefetch_batches: z.int().min(0).max(4).default(2),
    })
    .prefault({}),
});

/** `policy.generation`: sampling of rollouts (names of @rxrl/rollout / vLLM SamplingParams). */
export const grpoGenerationSchema = generateOptionsSchema
  .omit({ num_generations_per_prompt: true, seed: true })
  .extend({ max_new_tokens: z.int().min(1).default(16) });

/** `policy`: the shared policy section plus `generation`. */
export const grpoPolicySchema = policySchema.safeExtend({
  /** rollout sampling */
  generation: grpoGenerationSchema.prefault({}),
});

/** `data`: the built-in arithmetic task, or JSONL / Parquet prompt files. */
export const grpoDataSchema = z
  .strictObject({
    ...GrpoFormatOptions.shape,
    /**
     * the dataset spec SFT and DPO recipes take: `builtin:arithmetic` (`arithmetic`, the
     * older name, is the same) for the built-in task with the options in `arithmetic`, or
     * a JSONL / Parquet / Arrow file of training prompts; null: read `train_data_path`
     */
    dataset_name: z
      .string()
      .min(1)
      .refine((n) => !n.startsWith('builtin:') || n === BUILTIN_ARITHMETIC, {
        message: `not a built-in dataset; expected '${BUILTIN_ARITHMETIC}' or a file path`,
      })
      .nullable()
      .default('arithmetic'),
    /** difficulty of the built-in arithmetic task */
    arithmetic: ArithmeticOptions.prefault({}),
    /** training prompts drawn from the arithmetic task */
    num_train_prompts: z.int().positive().default(4096),
    /** JSONL / Parquet / Arrow file of training prompts (`prompt` or `messages`, `answer`) */
    train_data_path: z.string().min(1).nullable().default(null),
    /** held-out prompts; null with a train file: the last `max_val_samples` rows of it are held out */
    val_data_path: z.string().min(1).nullable().default(null),
    /** longest prompt in tokens; longer prompts are dropped */
    max_input_seq_length: z.int().positive().default(256),
    /** shuffle the training prompts each epoch */
    shuffle: z.boolean().default(true),
    /** prompt files: skip (and count, as `train/data/skipped_invalid`) rows that are malformed or miss a field instead of failing the run */
    skip_invalid: z.boolean().default(false),
  })
  .superRefine((d, ctx) => {
    if (
      d.train_data_path !== null &&
      d.dataset_name !== null &&
      !isBuiltinArithmetic(d.dataset_name)
    )
      ctx.addIssue({
        code: 'custom',
        path: ['train_data_path'],
        message: `the training file is data.dataset_name (${d.dataset_name}); give it once`,
      });
  });

/** Whether a GRPO `data.dataset_name` names the built-in arithmetic task (either spelling). */
export function isBuiltinArithmetic(name: string | null): boolean {
  return name === BUILTIN_ARITHMETIC || name === 'arithmetic';
}

/** The training prompts' file of a GRPO `data` section (`dataset_name` or `train_data_path`), or null for the built-in task. */
export function grpoTrainFile(data: {
  dataset_name: string | null;
  train_data_path: string | null;
}): string | null {
  if (data.train_data_path !== null) return data.train_data_path;
  return data.dataset_name === null || isBuiltinArithmetic(data.dataset_name)
    ? null
    : data.dataset_name;
}

/** `env`: the reward of the default graph (`reward.math` over `answer`). */
export const grpoEnvSchema = z.strictObject({
  /** options of the math verifier reward */
  math: mathRewardOptions.prefault({}),
});

/** `logger`: run outputs (NeMo RL names where they exist). */
export const grpoLoggerSchema = z.strictObject({
  /** the run directory; null: runs/grpo-<timestamp>. `--run-dir` wins */
  log_dir: z.string().min(1).nullable().default(null),
  /** TensorBoard event files under <run>/tensorboard */
  tensorboard_enabled: z.boolean().default(true),
  /** validation generations written to samples.jsonl */
  num_val_samples_to_print: z.int().nonnegative().default(4),
  /** progress bar / progress lines on stdout */
  progress: z.boolean().default(true),
  /** every this many steps, log each layer's gradient norm as train/grad_norm/<layer> (layers.<i>, embed_tokens, norm, lm_head); 0: never */
  grad_norm_per_layer_every: z.int().nonnegative().default(0),
});

/** Every section of a GRPO recipe. */
export const grpoSections = defineSections(
  {
    /** seed of init, shuffling and sampling */
    seed: z.int().min(0).max(0xffffffff).default(42),
    grpo: grpoSchema.prefault({}),
    policy: grpoPolicySchema,
    loss_fn: clippedPgLossOptionsSchema.prefault({}),
    /** loss_fn coefficients that follow a schedule or a controller: key path → spec (libs/loss schedules) */
    schedules: coefficientSchedulesSchema,
    env: grpoEnvSchema.prefault({}),
    data: grpoDataSchema.prefault({}),
    logger: grpoLoggerSchema.prefault({}),
    checkpointing: checkpointingSchema.prefault({}),
    /** the per-step stage graph; null: rollout.generate → reward.math → grouping.advantages from the keys above */
    graph: graphSchema.nullable().default(null),
  },
  (c) => {
    // NeMo RL: the samples of one step are split into whole optimizer batches. The
    // one check of the group size, on the resolved graph (a rollout node's own
    // num_generations_per_prompt wins over the grpo key).
    const n = samplesPerPrompt(c);
    const where =
      n === c.grpo.num_generations_per_prompt
        ? 'grpo.num_generations_per_prompt'
        : "the graph's rollout num_generations_per_prompt";
    const total = c.grpo.num_prompts_per_step * n;
    const issues: { path: (string | number)[]; message: string }[] = [];
    if (n < 2) {
      // the key's own schema says so; a graph node can still ask for one sample per prompt
      const node = (c.graph ?? []).findIndex((g) => g.stage.startsWith('rollout.'));
      issues.push({
        path: ['graph', Math.max(node, 0), 'options', 'num_generations_per_prompt'],
        message: `must be at least 2 in a GRPO graph (a group of one has no baseline: every advantage is 0), got ${n}`,
      });
    }
    if (total % c.policy.train_global_batch_size !== 0)
      issues.push({
        path: ['policy', 'train_global_batch_size'],
        message: `must divide grpo.num_prompts_per_step × ${where} = ${c.grpo.num_prompts_per_step} × ${n} = ${total} samples per step`,
      });
    issues.push(...groupingIssues(c));
    // a schedule drives a numeric loss_fn coefficient
    for (const key of Object.keys(c.schedules)) {
      const [section, name, ...rest] = key.split('.');
      const value =
        section === 'loss_fn' && rest.length === 0
          ? (c.loss_fn as Record<string, unknown>)[name!]
          : undefined;
      if (typeof value !== 'number')
        issues.push({
          path: ['schedules', key],
          message:
            'a schedule drives a numeric loss_fn coefficient (e.g. loss_fn.entropy_coef, loss_fn.reference_policy_kl_penalty)',
        });
    }
    return issues;
  },
);

export type GrpoConfig = ReturnType<typeof grpoSections.validate>;
