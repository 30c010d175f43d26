import * as path from 'node:path';
import type { RecordBatch } from 'apache-arrow';
import type { z } from 'zod';
import { SkipStats } from '@rxrl/data';
import { datasetRows, locatingGuard } from '../shared/datasetRows';
import { buildOptimizer } from '../shared/buildOptimizer';
import { exportedDirs, exportPolicy, loadPolicy } from '../shared/loadPolicy';
import { trainingRecord, writeTrainingRecord } from '../shared/trainingRecord';
import type { policySchema } from '../shared/policyOptions';
import { runTraining, type GraphSpec } from '@rxrl/pipeline';
import type { checkpointingSchema } from '@rxrl/checkpoint';
import { sftExamples } from './sftExamples';
import type { sftDataSchema, sftSchema } from './sftOptions';
import { sftGraphSpec } from './sftGraph';
import { SftTrainer, type SftObjective } from './sftTrainer';
import { optimizerStepOptionsOf } from '../shared/optimizerStepStage';

/** A validated SFT recipe. */
export interface SftConfig {
  seed: number;
  policy: z.infer<typeof policySchema>;
  sft: z.infer<typeof sftSchema>;
  data: z.infer<typeof sftDataSchema>;
  checkpointing: z.input<typeof checkpointingSchema>;
  /** the per-step graph; null: the default the keys make (`sftGraphSpec`) */
  graph: GraphSpec | null;
}

/** Options of {@link runSft}. */
export interface RunSftOptions {
  /** where metrics.jsonl, TensorBoard events and `final_model/` go */
  runDir: string;
  /** also write the trained policy (HF directory) here */
  exportDir?: string | null;
  /** progress and result lines */
  log?: (line: string) => void;
  /** a progress bar / plain progress lines */
  progress?: boolean;
  /** continue from the run directory's latest checkpoint: 'auto' (default), true (required) or false */
  resume?: boolean | 'auto';
  /** relative dataset and model paths resolve against this */
  cwd?: string;
  /** replace the default NLL / DFT training loss (see {@link SftObjective}) */
  objective?: SftObjective;
}

/** What an SFT run measured. */
export interface SftRunResult {
  /** the signal (SIGINT / SIGTERM) that stopped the run after a checkpoint, else null */
  signal: NodeJS.Signals | null;
  steps: number;
  first: Record<string, number> | null;
  last: Record<string, number> | null;
  seconds: number;
  modelDir: string;
}

/** Run an SFT recipe end to end: load policy and data, train, validate, export the policy. */
export async function runSft(config: SftConfig, options: RunSftOptions): Promise<SftRunResult> {
  const log = options.log ?? (() => {});
  const cwd = options.cwd ?? process.cwd();
  const started = performance.now();
  const policy = await loadPolicy(config.policy, config.seed, cwd);
  try {
    const skipped = new SkipStats();
    const rows = await datasetRows(config.data, 'sft', cwd, skipped);
    const maxLen = config.policy.max_total_sequence_length;
    const skip = config.data.skip_invalid;
    const train = sftExamples(
      policy.tokenizer,
      rows.train,
      config.data,
      maxLen,
      locatingGuard(rows.train, skip, skipped),
    );
    const val = sftExamples(
      policy.tokenizer,
      rows.val,
      config.data,
      maxLen,
      locatingGuard(rows.val, skip, skipped),
    );
    if (skip) log(`rxrl: ${skipped.skipped} invalid data rows skipped (data.skip_invalid)`);
    log(
      `rxrl: sft on ${train.examples.length} examples (${train.stats.dropped} dropped, ${train.stats.truncated} truncated), ${val.examples.length} held out`,
    );
    const graph = sftGraphSpec(config);
    const optimizer = buildOptimizer(policy.model, optimizerStepOptionsOf(graph));
    const trainer = new SftTrainer({
      graph,
      model: policy.model,
      tokenizer: policy.tokenizer,
      optimizer,
      policy: config.policy,
      sft: config.sft,
      train: train.examples,
      trainRows: rows.train,
      valRows: rows.val,
      val: val.examples,
      seed: config.seed,
      shuffle: config.data.shuffle,
      ...(options.objective ? { objective: options.objective } : {}),
    });
    const validations: { step: number; metrics: Record<string, number> }[] = [];
    const algorithm = {
      trainStep: async (b: RecordBatch, step: number) => {
        const r = await trainer.trainStep(b, step);
        if (skip) r.metrics['train/data/skipped_invalid'] = skipped.skipped;
        return r;
      },
      validate: async (step: number) => {
        const r = await trainer.validate(step);
        validations.push({ step, metrics: r.metrics });
        return r;
      },
      saveState: () => trainer.saveState(),
      loadState: (files: Record<string, Uint8Array>) => trainer.loadState(files),
    };
    let result;
    try {
      result = await runTraining({
        runDir: options.runDir,
        algorithm,
        data: trainer.sampler,
        loop: {
          max_num_steps: config.sft.max_num_steps,
          max_num_epochs: config.sft.max_num_epochs,
          val_period: config.sft.val_period,
          val_at_start: config.sft.val_at_start,
          val_at_end: true,
          on_nonfinite: config.policy.on_nonfinite,
          early_stopping:
            config.sft.early_stopping_patience === null
              ? null
              : {
                  metric: 'validation/loss',
                  patience: config.sft.early_stopping_patience,
                  higher_is_better: false,
                },
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
        algorithm: 'sft',
        dataset: config.data.dataset_name,
        arithmetic: config.data.arithmetic,
        rows: 'sft',
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
    const first = validations[0]?.metrics ?? null;
    const last = result.lastValidation;
    log(
      `rxrl: sft done (${result.reason}): ${result.step} steps in ${(seconds / 60).toFixed(1)} min; policy written to ${modelDir}`,
    );
    return { steps: result.step, signal: result.signal, first, last, seconds, modelDir };
  } finally {
    policy.model.dispose();
  }
}
