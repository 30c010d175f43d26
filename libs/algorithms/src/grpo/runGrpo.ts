import * as path from 'node:path';
import type { LoadedConfig } from '@rxrl/config';
import type { Stage } from '@rxrl/core/base';
import { currentBackend } from '@rxrl/core';
import {
  runTraining,
  type GraphSpec,
  type MoreBatches,
  type RunResult,
  type StageRegistry,
} from '@rxrl/pipeline';
import { buildOptimizer } from '../shared/buildOptimizer';
import { optimizerStepOptionsOf } from '../shared/optimizerStepStage';
import { exportedDirs, exportPolicy, loadPolicy } from '../shared/loadPolicy';
import { trainingRecord, writeTrainingRecord } from '../shared/trainingRecord';
import { grpoTrainFile, type GrpoConfig } from './grpoConfig';
import { BUILTIN_ARITHMETIC } from '../shared/datasetSchema';
import { GrpoTrainer, type GrpoObjective } from './grpoTrainer';
import { SkipStats } from '@rxrl/data';
import { loadPromptSets, promptBatches } from './promptSet';
import { builtinStageRegistry } from '../builtinStages';
import { validateGrpoGraph, grpoGraphSpec } from './grpoGraph';
import { WorkerGenerator } from '../rolloutWorker/workerGenerator';
import { generationRequestOf, prefetchingSource } from '../rolloutWorker/prefetchingSource';
import { withGenerationWorker } from '../rolloutWorker/withGenerationWorker';
import { PromptEmbedder } from './promptEmbedder';

/** Options of {@link runGrpo} besides the validated config. */
export interface RunGrpoOptions {
  /** the run directory (metrics, checkpoints, report, the final policy under `policy/`) */
  runDir: string;
  /** `auto` (default): continue from the run directory's latest checkpoint; true: require one */
  resume?: boolean | 'auto';
  /** the recipe as loaded, so graph errors carry file:line */
  loaded?: LoadedConfig;
  /** a per-step graph built in code, replacing the recipe's */
  graph?: Stage | GraphSpec;
  registry?: StageRegistry;
  /** replace the default clipped policy-gradient objective (see {@link GrpoObjective}) */
  objective?: GrpoObjective;
  /** status lines */
  log?: (line: string) => void;
  /** relative paths in the config resolve against this (default the process's cwd) */
  cwd?: string;
  /** also write the trained policy (HF directory) here, besides `<runDir>/policy` */
  exportDir?: string | null;
}

/**
 * A whole GRPO run from a validated recipe: load the policy (`policy.model_name`
 * or `policy.init`), the prompts (`data`), build the optimizer, validate the graph,
 * then hand the loop to the pipeline runner; at the end the policy is written as a
 * Hugging Face model directory `<runDir>/policy`.
 */
export async function runGrpo(
  config: GrpoConfig,
  options: RunGrpoOptions,
): Promise<RunResult & { policyDir: string }> {
  const registry = options.registry ?? builtinStageRegistry();
  // the resolved graph; one built in code is its rollout part, the keys give its update
  const graph = grpoGraphSpec(
    config,
    typeof options.graph === 'function' ? null : (options.graph ?? config.graph),
  );
  if (typeof options.graph !== 'function') {
    validateGrpoGraph(graph, {
      registry,
      ...(options.loaded ? { loaded: options.loaded } : {}),
    });
  }
  const baseDir = options.cwd ?? process.cwd();
  const policy = await loadPolicy(config.policy, config.seed, baseDir);
  const optimizer = buildOptimizer(policy.model, optimizerStepOptionsOf(graph));
  let trainer: GrpoTrainer | null = null;
  let generator: WorkerGenerator | null = null;
  let embedder: PromptEmbedder | null = null;
  try {
    const grouping = config.grpo.grouping;
    if (grouping.embedding_model !== null) {
      embedder = await PromptEmbedder.fromDirectory(
        grouping.embedding_model,
        {
          cacheSize: grouping.embedding_cache_size,
          microBatchSize: grouping.embedding_micro_batch_size,
        },
        baseDir,
      );
      options.log?.(
        `rxrl: prompt embeddings for grouping from ${grouping.embedding_model} (hidden size ${embedder.dimension})`,
      );
    }
    const worker = config.grpo.generation_worker;
    // Dawn (webgpu) in a worker thread aborts the whole process when that thread
    // exits (measured: a fatal napi error at the end of a 2-step run); on a GPU the
    // second thread buys nothing anyway, so generation stays on the main thread.
    const onGpu = currentBackend()?.backend === 'webgpu';
    if (worker.enabled && onGpu)
      options.log?.(
        'rxrl: generation on the main thread (grpo.generation_worker is not used on the webgpu backend)',
      );
    if (worker.enabled && !onGpu) {
      generator = await WorkerGenerator.create({
        model: policy.model,
        tokenizerSource: policy.tokenizerSource,
      });
      options.log?.(
        `rxrl: generation on a worker thread${worker.prefetch_batches > 0 ? `, ${worker.prefetch_batches} prompt batches ahead (off-policy by the steps each waits)` : ''}`,
      );
    }
    const skipped = new SkipStats();
    const prompts = await loadPromptSets(config, policy.tokenizer, baseDir, skipped);
    const skip = config.data.skip_invalid && grpoTrainFile(config.data) !== null;
    if (skip)
      options.log?.(`rxrl: ${skipped.skipped} invalid data rows skipped (data.skip_invalid)`);
    trainer = new GrpoTrainer({
      config,
      model: policy.model,
      tokenizer: policy.tokenizer,
      optimizer,
      validation: prompts.validation,
      ...(generator ? { services: { generator } } : {}),
      ...(embedder ? { embedder } : {}),
      ...(options.graph ? { graph: options.graph } : {}),
      ...(options.objective ? { objective: options.objective } : {}),
      registry,
    });
    const algorithm = skip ? withSkipCount(trainer, skipped) : trainer;
    const batches = promptBatches(
      prompts.train,
      promptsPerGenerationBatch(config),
      config.seed,
      config.data.shuffle,
    );
    const gen = generator;
    const result = await runTraining({
      runDir: options.runDir,
      algorithm: gen ? withGenerationWorker(algorithm, gen, policy.model) : algorithm,
      data:
        gen && worker.prefetch_batches > 0
          ? prefetchingSource(
              batches,
              (b) => {
                const r = generationRequestOf(b);
                gen.prefetch(r.prompts, r.keys);
              },
              worker.prefetch_batches,
            )
          : batches,
      loop: {
        max_num_steps: config.grpo.max_num_steps,
        max_num_epochs: config.grpo.max_num_epochs,
        val_period: config.grpo.val_period,
        val_at_start: config.grpo.val_at_start,
        val_at_end: config.grpo.val_at_end,
        early_stopping: config.grpo.early_stopping,
        on_nonfinite: config.policy.on_nonfinite,
      },
      checkpointing: config.checkpointing,
      resume: options.resume ?? 'auto',
      tensorboard: config.logger.tensorboard_enabled,
      progress: config.logger.progress ? { fields: PROGRESS_FIELDS } : false,
      ...(options.log ? { log: options.log } : {}),
    });
    const policyDir = path.join(path.resolve(options.runDir), 'policy');
    const record = trainingRecord(
      {
        algorithm: 'grpo',
        // a recipe's own prompt files are not redrawn; the built-in task is
        dataset: grpoTrainFile(config.data) ?? BUILTIN_ARITHMETIC,
        arithmetic: config.data.arithmetic,
        rows: 'grpo',
        num_train: config.data.num_train_prompts,
        start_model: config.policy.model_name,
      },
      baseDir,
    );
    for (const dir of [
      policyDir,
      ...(options.exportDir ? [path.resolve(baseDir, options.exportDir)] : []),
    ]) {
      await exportPolicy(policy, dir);
      // the adapter directory records its training too: `rxrl eval --adapter` reads it
      for (const d of exportedDirs(policy, dir)) writeTrainingRecord(d, record);
    }
    return { ...result, policyDir };
  } finally {
    await generator?.dispose();
    trainer?.dispose();
    embedder?.dispose();
    optimizer.dispose();
    policy.model.dispose();
  }
}

const PROGRESS_FIELDS = [
  { name: 'train/loss', label: 'loss', digits: 4 },
  { name: 'train/reward', label: 'reward', digits: 3 },
  { name: 'train/accuracy', label: 'acc', digits: 3 },
  { name: 'validation/accuracy', label: 'val_acc', digits: 3 },
  { name: 'performance/tokens_per_sec', label: 'tok/s', digits: 0 },
];

/** The trainer, its step metrics carrying `train/data/skipped_invalid` (rows left out under data.skip_invalid). */
function withSkipCount(trainer: GrpoTrainer, skipped: SkipStats) {
  return {
    trainStep: async (
      batch: Parameters<GrpoTrainer['trainStep']>[0],
      step: number,
      more: MoreBatches<Parameters<GrpoTrainer['trainStep']>[0]>,
    ) => {
      const r = await trainer.trainStep(batch, step, more);
      return { ...r, metrics: { ...r.metrics, 'train/data/skipped_invalid': skipped.skipped } };
    },
    validate: () => trainer.validate(),
    saveState: () => trainer.saveState(),
    loadState: (files: Record<string, Uint8Array>) => trainer.loadState(files),
  };
}

/** Prompts per data batch: with dynamic sampling, `batch_multiplier` times the step's (NeMo RL). */
export function promptsPerGenerationBatch(config: GrpoConfig): number {
  const { num_prompts_per_step: n, use_dynamic_sampling, batch_multiplier } = config.grpo;
  return use_dynamic_sampling ? Math.ceil(n * batch_multiplier) : n;
}
