import type { Tokenizer } from '@rxrl/core/base';
import type { CausalLM } from '@rxrl/model';
import type { NamedOptimizer } from '@rxrl/optimizer';
import type { BatchSource, StateFiles, StepResult } from '@rxrl/pipeline';
import type { z } from 'zod';
import type { PolicyOptions } from '../shared/policyOptions';

/** What a plugin's `build` gets: the recipe's policy made real, and its own options. */
export interface AlgorithmBuildContext<O> {
  /** the plugin's recipe section (`<name>:`), parsed by its `options` schema */
  options: O;
  /** the policy being trained (`policy:` section: a pretrained directory or a fresh `init` model) */
  model: CausalLM;
  tokenizer: Tokenizer;
  /** the recipe's optimizer and scheduler over the policy's trainable weights */
  optimizer: NamedOptimizer;
  /** the `policy:` section: batch sizes (`train_global_batch_size`, `train_micro_batch_size`), `max_grad_norm`, … */
  policy: PolicyOptions;
  /** the recipe's `seed` */
  seed: number;
  /** relative data paths resolve against this (the working directory of the command) */
  cwd: string;
  /** status lines */
  log: (line: string) => void;
}

/** What a built plugin does each step; rxrl's runner owns the loop around it. */
export interface AlgorithmSteps<B> {
  /** the training batches, epoch by epoch (deterministic per epoch: the resume cursor relies on it) */
  data: BatchSource<B>;
  /** one optimisation step (`step` from 1): metrics `train/…`; `accumulatedStep` does the update */
  trainStep(batch: B, step: number): Promise<StepResult> | StepResult;
  /** held-out metrics `validation/…` after `step` steps (0 before training) */
  validate?(step: number): Promise<StepResult> | StepResult;
  /** state besides the policy weights and optimizer (rxrl checkpoints those): RNGs, controllers */
  saveState?(): StateFiles;
  /** restores what `saveState` wrote */
  loadState?(files: Record<string, Uint8Array>): void;
  /** frees what `build` made (reference models, tensors); the policy is rxrl's */
  dispose?(): void;
}

/**
 * A training algorithm as a plugin: a recipe names the module and export
 * (`algorithm: ./my_algo.ts#MyAlgo`, the path relative to the recipe) and
 * `rxrl train --config recipe.yaml` loads the policy and optimizer, builds the
 * plugin, runs it on the pipeline runner (steps, validation, checkpoints, resume,
 * metrics, report) and exports the trained policy. The export may be an object
 * of this shape or a class with a no-argument constructor.
 */
export interface TrainingAlgorithm<O = any, B = any> {
  /** the recipe section holding its options, e.g. `sign_sft` for `sign_sft: { alpha: 0.1 }` */
  readonly name: string;
  /**
   * The options of that section as a zod object (`z.object({...})`); rxrl adds the
   * loop keys (`max_num_steps`, `max_num_epochs`, `val_period`, `val_at_start`,
   * `val_at_end`), so a typo in either is reported at its file and line.
   */
  readonly options: z.ZodObject<any>;
  /** sets the algorithm up on the loaded policy */
  build(context: AlgorithmBuildContext<O>): Promise<AlgorithmSteps<B>> | AlgorithmSteps<B>;
}
