import type { GraphSpec } from '@rxrl/pipeline';
import { optimizerStepOptionsOf } from '../shared/optimizerStepStage';
import type { GkdObjective } from './gkdLoss';
import * as path from 'node:path';
import type { RecordBatch } from 'apache-arrow';
import type { z } from 'zod';
import { RxrlConfigError } from '@rxrl/core/base';
import { SkipStats } from '@rxrl/data';
import { loadPretrained, type CausalLM } from '@rxrl/model';
import type { checkpointingSchema } from '@rxrl/checkpoint';
import { runTraining } from '@rxrl/pipeline';
import { buildOptimizer } from '../shared/buildOptimizer';
import { datasetRows, locatingGuard } from '../shared/datasetRows';
import { exportedDirs, exportPolicy, loadPolicy } from '../shared/loadPolicy';
import type { policySchema } from '../shared/policyOptions';
import { trainingRecord, writeTrainingRecord } from '../shared/trainingRecord';
import { sftExamples } from '../sft/sftExamples';
import type { sftDataSchema } from '../sft/sftOptions';
import type { gkdSchema } from './gkdOptions';
import { GkdTrainer, gkdRecipeGraphSpec } from './gkdTrainer';

/** A validated GKD recipe. */
export interface GkdConfig {
  seed: number;
  policy: z.infer<typeof policySchema>;
  gkd: z.infer<typeof gkdSchema>;
  data: z.infer<typeof sftDataSchema>;
  checkpointing: z.input<typeof checkpointingSchema>;
  /** the per-step graph; null: the keys' (`gkdRecipeGraphSpec`) */
  graph: GraphSpec | null;
}

/** Options of {@link runGkd} (as `runSft` takes them). */
export interface RunGkdOptions {
  runDir: string;
  exportDir?: string | null;
  log?: (line: string) => void;
  progress?: boolean;
  resume?: boolean | 'auto';
  cwd?: string;
  /** replace the generalised JSD the student trains on (see {@link GkdObjective}) */
  objective?: GkdObjective;
}

/** What a GKD run measured. */
export interface GkdRunResult {
  /** the signal (SIGINT / SIGTERM) that stopped the run after a checkpoint, else null */
  signal: NodeJS.Signals | null;
  steps: number;
  first: Record<string, number> | null;
  last: Record<string, number> | null;
  seconds: number;
  modelDir: string;
}

/**
 * Why a remote teacher cannot serve GKD; exported so the CLI and the docs say the same.
 * The check runs before any model is loaded.
 */
export const REMOTE_TEACHER_REFUSAL =
  'gkd.teacher.remote is not supported: the generalised JSD needs the teacher’s whole next-token distribution at every position of the student’s sequences, and the OpenAI-compatible client (rollout.remote) only gets the log-prob of the token the server itself sampled, for completions it generated (no scoring of given text, no full vocabulary). Serve the teacher as a local model directory in gkd.teacher.model_name';

/** The teacher, frozen, checked against the student's vocabulary and tokenizer. */
async function loadTeacher(config: GkdConfig, student: CausalLM, cwd: string): Promise<CausalLM> {
  const dir = path.resolve(cwd, config.gkd.teacher.model_name!);
  const teacher = await loadPretrained(dir);
  if (teacher.config.vocabSize !== student.config.vocabSize) {
    teacher.dispose();
    throw new RxrlConfigError(
      `gkd.teacher.model_name: the teacher's vocabulary has ${teacher.config.vocabSize} ids, the student's ${student.config.vocabSize}; GKD compares distributions over the same vocabulary (use the teacher's tokenizer for the student: policy.tokenizer.name)`,
    );
  }
  teacher.logprobChunkSize = config.policy.logprob_chunk_size;
  return teacher;
}

/** Run a GKD recipe end to end: student and teacher, data, distil, validate, export the student. */
export async function runGkd(config: GkdConfig, options: RunGkdOptions): Promise<GkdRunResult> {
  const log = options.log ?? (() => {});
  const cwd = options.cwd ?? process.cwd();
  const started = performance.now();
  if (config.gkd.teacher.remote !== null) throw new RxrlConfigError(REMOTE_TEACHER_REFUSAL);
  const policy = await loadPolicy(config.policy, config.seed, cwd);
  let teacher: CausalLM | null = null;
  try {
    teacher = await loadTeacher(config, policy.model, cwd);
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
    log(
      `rxrl: gkd on ${train.examples.length} prompts (${train.stats.dropped} dropped), ${val.examples.length} held out; teacher ${config.gkd.teacher.model_name}, lmbda ${config.gkd.lmbda}, beta ${config.gkd.beta}`,
    );
    const graph = gkdRecipeGraphSpec(config);
    const optimizer = buildOptimizer(policy.model, optimizerStepOptionsOf(graph));
    const trainer = new GkdTrainer({
      model: policy.model,
      teacher,
      tokenizer: policy.tokenizer,
      optimizer,
      policy: config.policy,
      gkd: config.gkd,
      train: train.examples,
      trainRows: rows.train,
      val: val.examples,
      valRows: rows.val,
      seed: config.seed,
      shuffle: config.data.shuffle,
      graph,
      ...(options.objective ? { objective: options.objective } : {}),
    });
    const validations: Record<string, number>[] = [];
    let result;
    try {
      result = await runTraining({
        runDir: options.runDir,
        algorithm: {
          trainStep: (b: RecordBatch, step: number) => trainer.trainStep(b, step),
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
          max_num_steps: config.gkd.max_num_steps,
          max_num_epochs: config.gkd.max_num_epochs,
          val_period: config.gkd.val_period,
          val_at_start: config.gkd.val_at_start,
          val_at_end: true,
          on_nonfinite: config.policy.on_nonfinite,
          early_stopping:
            config.gkd.early_stopping_patience === null
              ? null
              : {
                  metric: 'validation/loss',
                  patience: config.gkd.early_stopping_patience,
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
        algorithm: 'gkd',
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
      for (const d of exportedDirs(policy, dir)) writeTrainingRecord(d, record);
    }
    const seconds = (performance.now() - started) / 1000;
    log(
      `rxrl: gkd done (${result.reason}): ${result.step} steps in ${(seconds / 60).toFixed(1)} min; student written to ${modelDir}`,
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
    teacher?.dispose();
    policy.model.dispose();
  }
}
