import * as path from 'node:path';
import type { RecordBatch } from 'apache-arrow';
import type { z } from 'zod';
import type { checkpointingSchema } from '@rxrl/checkpoint';
import { objectiveNeedsMismatchedKl } from '@rxrl/loss';
import { runTraining, type GraphSpec } from '@rxrl/pipeline';
import { optimizerStepOptionsOf } from '../shared/optimizerStepStage';
import { dpoGraphSpec } from './dpoGraph';
import { buildOptimizer } from '../shared/buildOptimizer';
import { SkipStats } from '@rxrl/data';
import { datasetRows, locatingGuard } from '../shared/datasetRows';
import { exportedDirs, exportPolicy, loadPolicy } from '../shared/loadPolicy';
import { trainingRecord, writeTrainingRecord } from '../shared/trainingRecord';
import type { policySchema } from '../shared/policyOptions';
import { preferencePairs } from './dpoExamples';
import { dpoLossOptionsOf, type dpoDataSchema, type dpoSchema } from './dpoOptions';
import { DpoTrainer, type DpoObjective } from './dpoTrainer';

/** A validated DPO recipe. */
export interface DpoConfig {
  seed: number;
  policy: z.infer<typeof policySchema>;
  dpo: z.infer<typeof dpoSchema>;
  data: z.infer<typeof dpoDataSchema>;
  checkpointing: z.input<typeof checkpointingSchema>;
  /** the per-step graph; null: the default the keys make (`dpoGraphSpec`) */
  graph: GraphSpec | null;
}

/** Options of {@link runDpo}. */
export interface RunDpoOptions {
  runDir: string;
  /** also write the trained policy (HF directory) here */
  exportDir?: string | null;
  log?: (line: string) => void;
  progress?: boolean;
  resume?: boolean | 'auto';
  cwd?: string;
  /** replace the default dpoLoss objective (wins over the recipe's dpo.objective) */
  objective?: DpoObjective;
}

/** What a DPO run measured. */
export interface DpoRunResult {
  /** the signal (SIGINT / SIGTERM) that stopped the run after a checkpoint, else null */
  signal: NodeJS.Signals | null;
  steps: number;
  first: Record<string, number> | null;
  last: Record<string, number> | null;
  seconds: number;
  modelDir: string;
}

/** Run a DPO recipe end to end: policy + frozen reference, preference pairs, train, validate, export. */
export async function runDpo(config: DpoConfig, options: RunDpoOptions): Promise<DpoRunResult> {
  const log = options.log ?? (() => {});
  const cwd = options.cwd ?? process.cwd();
  const started = performance.now();
  const policy = await loadPolicy(config.policy, config.seed, cwd);
  const graph = dpoGraphSpec(config);
  // π_ref is loaded for a graph that scores with it
  const reference = graph.some((n) => n.stage === 'policy.reference_logprobs')
    ? policy.model.referencePolicy()
    : null;
  const named = config.dpo.objective;
  try {
    const skipped = new SkipStats();
    const rows = await datasetRows(config.data, 'preference', cwd, skipped);
    const skip = config.data.skip_invalid;
    const maxLen = config.policy.max_total_sequence_length;
    const train = preferencePairs(
      policy.tokenizer,
      rows.train,
      config.data,
      maxLen,
      locatingGuard(rows.train, skip, skipped),
    );
    const val = preferencePairs(
      policy.tokenizer,
      rows.val,
      config.data,
      maxLen,
      locatingGuard(rows.val, skip, skipped),
    );
    if (skip) log(`rxrl: ${skipped.skipped} invalid data rows skipped (data.skip_invalid)`);
    log(
      `rxrl: dpo on ${train.pairs.length} pairs (${train.stats.dropped} dropped, ${train.stats.truncated} truncated), ${val.pairs.length} held out`,
    );
    const optimizer = buildOptimizer(policy.model, optimizerStepOptionsOf(graph));
    const trainer = new DpoTrainer({
      graph,
      model: policy.model,
      reference,
      tokenizer: policy.tokenizer,
      optimizer,
      policy: config.policy,
      val: config.dpo,
      loss: dpoLossOptionsOf(config.dpo),
      ...(options.objective
        ? {
            objective: options.objective,
            mismatchedKl: named !== null && objectiveNeedsMismatchedKl(named),
          }
        : {}),
      trainPairs: train.pairs,
      valPairs: val.pairs,
      trainRows: rows.train,
      valRows: rows.val,
      seed: config.seed,
      shuffle: config.data.shuffle,
    });
    const validations: Record<string, number>[] = [];
    let result;
    try {
      result = await runTraining({
        runDir: options.runDir,
        algorithm: {
          trainStep: async (b: RecordBatch, step: number) => {
            const r = await trainer.trainStep(b, step);
            if (skip) r.metrics['train/data/skipped_invalid'] = skipped.skipped;
            return r;
          },
          validate: async (step: number) => {
            const r = await trainer.validate(step);
            validations.push(r.metrics);
            return r;
          },
          saveState: () => trainer.saveState(),
          loadState: (files: Record<string, Uint8Array>) => trainer.loadState(files),
        },
        data: trainer.sampler,
        loop: {
          max_num_steps: config.dpo.max_num_steps,
          max_num_epochs: config.dpo.max_num_epochs,
          val_period: config.dpo.val_period,
          val_at_start: config.dpo.val_at_start,
          val_at_end: true,
          on_nonfinite: config.policy.on_nonfinite,
        },
        checkpointing: config.checkpointing,
        resume: options.resume ?? 'auto',
        progress: options.progress ? {} : false,
        log,
      });
    } finally {
      trainer.dispose();
      optimizer.dispose();
    }
    const modelDir = path.join(options.runDir, 'final_model');
    const record = trainingRecord(
      {
        algorithm: 'dpo',
        dataset: config.data.dataset_name,
        arithmetic: config.data.arithmetic,
        rows: 'preference',
        num_train: config.data.num_train_examples,
        start_model: config.policy.model_name,
      },
      cwd,
    );
    for (const dir of [
      modelDir,
      ...(options.exportDir ? [path.resolve(cwd, options.exportDir)] : []),
    ]) {
      await exportPolicy(policy, dir);
      // the adapter directory records its training too: `rxrl eval --adapter` reads it
      for (const d of exportedDirs(policy, dir)) writeTrainingRecord(d, record);
    }
    const seconds = (performance.now() - started) / 1000;
    log(
      `rxrl: dpo done (${result.reason}): ${result.step} steps in ${(seconds / 60).toFixed(1)} min; policy written to ${modelDir}`,
    );
    return {
      steps: result.step,
      signal: result.signal,
      first: validations[0] ?? null,
      last: result.lastValidation,
      seconds,
      modelDir,
    };
  } finally {
    reference?.dispose();
    policy.model.dispose();
  }
}
