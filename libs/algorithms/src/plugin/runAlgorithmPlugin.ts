import * as path from 'node:path';
import { z } from 'zod';
import { checkpointingSchema } from '@rxrl/checkpoint';
import { defineSections, type ConfigSections } from '@rxrl/config';
import { RxrlConfigError } from '@rxrl/core/base';
import type { NamedOptimizer } from '@rxrl/optimizer';
import { runTraining, type StateFiles } from '@rxrl/pipeline';
import { buildOptimizer } from '../shared/buildOptimizer';
import { exportPolicy, loadPolicy, type LoadedPolicy } from '../shared/loadPolicy';
import { policySchema, type PolicyOptions } from '../shared/policyOptions';
import { loadPolicyState, savePolicyState } from '../shared/policyState';
import { loggerSchema, seedSchema } from '../shared/runSections';
import type { AlgorithmSteps, TrainingAlgorithm } from './trainingAlgorithm';

/** The loop keys rxrl adds to a plugin's section (NeMo RL names, as in `sft:` / `grpo:`). */
export const pluginLoopShape = {
  /** stop after this many optimizer steps */
  max_num_steps: z.int().positive().default(100),
  /** stop after this many passes over the plugin's data */
  max_num_epochs: z.int().positive().default(1),
  /** validate every N steps (0: never, besides val_at_start / val_at_end) */
  val_period: z.int().nonnegative().default(0),
  /** validate before the first step */
  val_at_start: z.boolean().default(false),
  /** validate after the last step */
  val_at_end: z.boolean().default(true),
};
const LOOP_KEYS = Object.keys(pluginLoopShape);
const SHARED_SECTIONS = ['algorithm', 'seed', 'logger', 'policy', 'checkpointing'];

/** A validated plugin recipe: the shared sections plus the plugin's own (`config[plugin.name]`). */
export interface PluginConfig {
  algorithm: string;
  seed: number;
  logger: z.infer<typeof loggerSchema>;
  policy: PolicyOptions;
  checkpointing: z.input<typeof checkpointingSchema>;
  [section: string]: unknown;
}

/**
 * The sections of a recipe that runs `plugin`: `algorithm` (the module reference),
 * `seed`, `logger`, `policy`, `checkpointing`, and `<plugin.name>:` with the loop keys
 * and the plugin's options.
 */
export function pluginSections(
  plugin: TrainingAlgorithm,
): ConfigSections<Record<string, z.ZodType>> {
  if (SHARED_SECTIONS.includes(plugin.name))
    throw new RxrlConfigError(
      `plugin ${plugin.name}: its name is a shared recipe section; choose another name`,
    );
  const own = Object.keys(plugin.options.shape).filter((k) => LOOP_KEYS.includes(k));
  if (own.length > 0)
    throw new RxrlConfigError(
      `plugin ${plugin.name}: its options redefine the loop keys ${own.join(', ')}, which rxrl adds`,
    );
  return defineSections({
    /** the plugin: `./file.ts#Export`, relative to the recipe */
    algorithm: z.string().min(1),
    seed: seedSchema,
    logger: loggerSchema,
    policy: policySchema,
    checkpointing: checkpointingSchema.prefault({}),
    [plugin.name]: z
      .object({ ...pluginLoopShape, ...plugin.options.shape })
      .strict()
      .prefault({}),
  }) as ConfigSections<Record<string, z.ZodType>>;
}

/** Builds `plugin` on a loaded policy; `section` is its recipe section (loop keys are left out). */
export async function buildPluginSteps(
  plugin: TrainingAlgorithm,
  args: {
    section: Record<string, unknown>;
    policy: LoadedPolicy;
    policyOptions: PolicyOptions;
    optimizer: NamedOptimizer;
    seed: number;
    cwd: string;
    log: (line: string) => void;
  },
): Promise<AlgorithmSteps<unknown>> {
  const raw = Object.fromEntries(
    Object.entries(args.section).filter(([k]) => !LOOP_KEYS.includes(k)),
  );
  const options: unknown = plugin.options.parse(raw);
  return plugin.build({
    options,
    model: args.policy.model,
    tokenizer: args.policy.tokenizer,
    optimizer: args.optimizer,
    policy: args.policyOptions,
    seed: args.seed,
    cwd: args.cwd,
    log: args.log,
  });
}

/** Options of {@link runAlgorithmPlugin}. */
export interface RunAlgorithmPluginOptions {
  /** metrics.jsonl, checkpoints/, report.html and `final_model/` go here */
  runDir: string;
  /** also write the trained policy (HF directory) here */
  exportDir?: string | null;
  log?: (line: string) => void;
  progress?: boolean;
  resume?: boolean | 'auto';
  /** relative model and data paths resolve against this */
  cwd?: string;
}

/** What a plugin run came to. */
export interface PluginRunResult {
  /** the signal (SIGINT / SIGTERM) that stopped the run after a checkpoint, else null */
  signal: NodeJS.Signals | null;
  steps: number;
  reason: string;
  first: Record<string, number> | null;
  last: Record<string, number> | null;
  seconds: number;
  modelDir: string;
}

/** Where a plugin's own checkpoint files go, apart from the policy's. */
const PLUGIN_STATE_PREFIX = 'plugin.';

/**
 * Runs a plugin recipe end to end: load the policy, build the optimizer and the
 * plugin, train on the pipeline runner (validation, checkpoints with the plugin's
 * state beside the policy's, resume, metrics, report), export the policy to
 * `<runDir>/final_model` (and `exportDir`).
 */
export async function runAlgorithmPlugin(
  plugin: TrainingAlgorithm,
  config: PluginConfig,
  options: RunAlgorithmPluginOptions,
): Promise<PluginRunResult> {
  const log = options.log ?? (() => {});
  const cwd = options.cwd ?? process.cwd();
  const started = performance.now();
  const section = (config[plugin.name] ?? {}) as Record<string, unknown> &
    z.infer<z.ZodObject<typeof pluginLoopShape>>;
  const policy = await loadPolicy(config.policy, config.seed, cwd);
  const optimizer = buildOptimizer(policy.model, config.policy);
  let steps: AlgorithmSteps<unknown> | null = null;
  try {
    steps = await buildPluginSteps(plugin, {
      section,
      policy,
      policyOptions: config.policy,
      optimizer,
      seed: config.seed,
      cwd,
      log,
    });
    const built = steps;
    const validations: Record<string, number>[] = [];
    const result = await runTraining({
      runDir: options.runDir,
      algorithm: {
        trainStep: (batch, step) => built.trainStep(batch, step),
        ...(built.validate
          ? {
              validate: async (step: number) => {
                const r = await built.validate!(step);
                validations.push(r.metrics);
                return r;
              },
            }
          : {}),
        saveState: () => {
          const files: StateFiles = savePolicyState(policy.model, optimizer);
          for (const [k, v] of Object.entries(built.saveState?.() ?? {}))
            files[PLUGIN_STATE_PREFIX + k] = v;
          return files;
        },
        loadState: (files) => {
          loadPolicyState(policy.model, optimizer, files);
          const own = Object.entries(files).filter(([k]) => k.startsWith(PLUGIN_STATE_PREFIX));
          built.loadState?.(
            Object.fromEntries(own.map(([k, v]) => [k.slice(PLUGIN_STATE_PREFIX.length), v])),
          );
        },
      },
      data: built.data,
      loop: {
        max_num_steps: section.max_num_steps,
        max_num_epochs: section.max_num_epochs,
        val_period: section.val_period,
        val_at_start: section.val_at_start && built.validate !== undefined,
        val_at_end: section.val_at_end && built.validate !== undefined,
        on_nonfinite: config.policy.on_nonfinite,
      },
      checkpointing: config.checkpointing,
      resume: options.resume ?? 'auto',
      progress: options.progress ? {} : false,
      log,
    });
    const modelDir = path.join(options.runDir, 'final_model');
    // no training record: what a plugin trains on is its own (rxrl eval scores the model as any other)
    for (const dir of [
      modelDir,
      ...(options.exportDir ? [path.resolve(cwd, options.exportDir)] : []),
    ])
      await exportPolicy(policy, dir);
    const seconds = (performance.now() - started) / 1000;
    log(
      `rxrl: ${plugin.name} done (${result.reason}): ${result.step} steps in ${(seconds / 60).toFixed(1)} min; policy written to ${modelDir}`,
    );
    return {
      steps: result.step,
      signal: result.signal,
      reason: result.reason,
      first: validations[0] ?? null,
      last: result.lastValidation,
      seconds,
      modelDir,
    };
  } finally {
    steps?.dispose?.();
    optimizer.dispose();
    policy.model.dispose();
  }
}
