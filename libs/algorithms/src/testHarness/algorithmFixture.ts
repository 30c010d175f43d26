import type { RecordBatch } from 'apache-arrow';
import type { NamedOptimizer } from '@rxrl/optimizer';
import type { StepResult } from '@rxrl/pipeline';
import { DpoTrainer, type DpoObjective } from '../dpo/dpoTrainer';
import { preferencePairs } from '../dpo/dpoExamples';
import { dpoDataSchema } from '../dpo/dpoOptions';
import { grpoSections } from '../grpo/grpoConfig';
import { GrpoTrainer, type GrpoObjective } from '../grpo/grpoTrainer';
import { loadPromptSets, promptBatches } from '../grpo/promptSet';
import { buildPluginSteps } from '../plugin/runAlgorithmPlugin';
import type { TrainingAlgorithm } from '../plugin/trainingAlgorithm';
import { datasetRows } from '../shared/datasetRows';
import { loadPolicy, type LoadedPolicy } from '../shared/loadPolicy';
import { policySchema, type PolicyOptions } from '../shared/policyOptions';
import { sftExamples } from '../sft/sftExamples';
import { sftDataSchema, sftSchema } from '../sft/sftOptions';
import { SftTrainer, type SftObjective } from '../sft/sftTrainer';
import { TINY_POLICY_INIT } from './tinyPolicy';

/** Which algorithm a test case trains, with its custom objective if any. */
export type AlgorithmUnderTest =
  | { algorithm: 'sft'; objective?: SftObjective }
  | {
      algorithm: 'dpo';
      objective?: DpoObjective;
      /** β of the stock loss (default 0.1) */ beta?: number;
    }
  | { algorithm: 'grpo'; objective?: GrpoObjective }
  | {
      /** a plugin (what a recipe's `algorithm: ./file.ts#Export` names) */
      algorithm: TrainingAlgorithm;
      /** its recipe section (the plugin's options; loop keys are not needed) */
      options?: Record<string, unknown>;
    };

/** The sizes a fixture is built with. */
export interface FixtureSizes {
  seed: number;
  lr: number;
  /** examples / pairs per step (SFT, DPO, plugins); GRPO: samples per step */
  batchSize: number;
}

/** A trainer on the fixture's model, stepping over the data it was built with. */
export interface FixtureTrainer {
  trainStep(step: number): Promise<StepResult>;
  dispose(): void;
}

/** A tiny model with data for one algorithm, and trainers over it with any optimizer and micro-batch size. */
export interface AlgorithmFixture {
  name: string;
  policy: LoadedPolicy;
  /**
   * A trainer whose steps update through `optimizer`, splitting each global batch
   * into micro-batches of `microBatchSize`. `fixedBatch`: every step trains on the
   * same batch (SFT, DPO, plugins: the first one), so the loss of that batch falls
   * if the algorithm learns; GRPO always samples afresh.
   */
  trainer(optimizer: NamedOptimizer, microBatchSize: number): Promise<FixtureTrainer>;
  /** the metric that shows learning, and which way it should move */
  progress: { metric: string; direction: 'down' | 'up' };
  dispose(): void;
}

const ARITHMETIC = { operators: ['+'], max_digits: 1 };

function tinyPolicyOptions(sizes: FixtureSizes, microBatchSize: number): PolicyOptions {
  return policySchema.parse({
    init: TINY_POLICY_INIT,
    train_global_batch_size: sizes.batchSize,
    train_micro_batch_size: microBatchSize,
    max_total_sequence_length: 32,
    max_grad_norm: 1,
    optimizer: { name: 'torch.optim.AdamW', kwargs: { lr: sizes.lr, weight_decay: 0 } },
  });
}

/** Builds the fixture of one algorithm (fresh tiny model, built-in one-digit addition data). */
export async function algorithmFixture(
  under: AlgorithmUnderTest,
  sizes: FixtureSizes,
): Promise<AlgorithmFixture> {
  const policyOptions = tinyPolicyOptions(sizes, sizes.batchSize);
  const policy = await loadPolicy(policyOptions, sizes.seed);
  const tok = policy.tokenizer;
  const all = Array.from({ length: sizes.batchSize }, (_, i) => i);
  const policyFor = (mb: number) => ({
    train_global_batch_size: sizes.batchSize,
    train_micro_batch_size: mb,
    max_grad_norm: 1,
  });
  try {
    if (under.algorithm === 'sft') {
      const data = sftDataSchema.parse({
        arithmetic: ARITHMETIC,
        num_train_examples: sizes.batchSize,
        num_val_examples: 1,
      });
      const rows = await datasetRows(data, 'sft');
      const train = sftExamples(tok, rows.train, data, 32).examples;
      return {
        name: 'sft',
        policy,
        progress: { metric: 'train/loss', direction: 'down' },
        async trainer(optimizer, mb) {
          const t = new SftTrainer({
            model: policy.model,
            tokenizer: tok,
            optimizer,
            policy: policyFor(mb),
            sft: sftSchema.parse({ val_generation: { num_prompts: 0 } }),
            train,
            val: [],
            seed: sizes.seed,
            ...(under.objective ? { objective: under.objective } : {}),
          });
          return { trainStep: async (step) => t.trainStep(all, step), dispose: () => {} };
        },
        dispose: () => policy.model.dispose(),
      };
    }
    if (under.algorithm === 'dpo') {
      const data = dpoDataSchema.parse({
        arithmetic: ARITHMETIC,
        num_train_examples: sizes.batchSize,
        num_val_examples: 1,
      });
      const rows = await datasetRows(data, 'preference');
      const pairs = preferencePairs(tok, rows.train, data, 32).pairs;
      const reference = policy.model.referencePolicy();
      return {
        name: 'dpo',
        policy,
        progress: { metric: 'train/loss', direction: 'down' },
        async trainer(optimizer, mb) {
          const t = new DpoTrainer({
            model: policy.model,
            reference,
            tokenizer: tok,
            optimizer,
            policy: policyFor(mb),
            val: { val_batches: null, val_global_batch_size: 1, val_micro_batch_size: 1 },
            loss: { reference_policy_kl_penalty: under.beta ?? 0.1 },
            ...(under.objective ? { objective: under.objective } : {}),
            trainPairs: pairs,
            valPairs: [],
            seed: sizes.seed,
          });
          return { trainStep: async (step) => t.trainStep(all, step), dispose: () => {} };
        },
        dispose: () => {
          reference.dispose();
          policy.model.dispose();
        },
      };
    }
    if (under.algorithm === 'grpo') {
      // a task a fresh model learns within a few steps: answer with a digit
      const generations = 8;
      const prompts = Math.max(1, Math.floor(sizes.batchSize / generations));
      const config = (mb: number) =>
        grpoSections.validate({
          seed: sizes.seed,
          grpo: {
            num_prompts_per_step: prompts,
            num_generations_per_prompt: generations,
            max_num_steps: 1000,
            val_period: 0,
            val_at_start: false,
            val_at_end: false,
            max_val_samples: 4,
            num_samples_logged: 0,
          },
          policy: {
            init: TINY_POLICY_INIT,
            train_global_batch_size: prompts * generations,
            train_micro_batch_size: mb,
            max_grad_norm: 1,
            generation: { max_new_tokens: 1 },
            optimizer: { name: 'torch.optim.AdamW', kwargs: { lr: sizes.lr, weight_decay: 0 } },
          },
          loss_fn: { reference_policy_kl_penalty: 0.01 },
          data: { arithmetic: ARITHMETIC, num_train_prompts: 96 },
          graph: [
            { stage: 'rollout.generate' },
            { stage: 'reward.regex_match', options: { pattern: '^[0-9]' } },
            { stage: 'grouping.advantages' },
          ],
        });
      const base = config(prompts * generations);
      const sets = await loadPromptSets(base, tok);
      const source = promptBatches(sets.train, prompts, sizes.seed, true);
      return {
        name: 'grpo',
        policy,
        progress: { metric: 'train/reward', direction: 'up' },
        async trainer(optimizer, mb) {
          const t = new GrpoTrainer({
            config: config(mb),
            model: policy.model,
            tokenizer: tok,
            optimizer,
            validation: sets.validation,
            ...(under.objective ? { objective: under.objective } : {}),
          });
          const batches = (source.batches(0, 0) as Iterable<RecordBatch>)[Symbol.iterator]();
          return {
            async trainStep(step) {
              let next = batches.next();
              if (next.done)
                next = (source.batches(1, 0) as Iterable<RecordBatch>)[Symbol.iterator]().next();
              return t.trainStep(next.value as RecordBatch, step, async () => undefined);
            },
            dispose: () => t.dispose(),
          };
        },
        dispose: () => policy.model.dispose(),
      };
    }
    const plugin = under.algorithm;
    return {
      name: plugin.name,
      policy,
      progress: { metric: 'train/loss', direction: 'down' },
      async trainer(optimizer, mb) {
        const steps = await buildPluginSteps(plugin, {
          section: under.options ?? {},
          policy,
          policyOptions: tinyPolicyOptions(sizes, mb),
          optimizer,
          seed: sizes.seed,
          cwd: process.cwd(),
          log: () => {},
        });
        let first: { batch: unknown } | null = null;
        for await (const batch of steps.data.batches(0, 0)) {
          first = { batch };
          break;
        }
        if (first === null) throw new Error(`${plugin.name}: its data source gave no batch`);
        const batch = first.batch;
        return {
          trainStep: async (step) => steps.trainStep(batch, step),
          dispose: () => steps.dispose?.(),
        };
      },
      dispose: () => policy.model.dispose(),
    };
  } catch (e) {
    policy.model.dispose();
    throw e;
  }
}
