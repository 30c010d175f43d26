import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import * as path from 'node:path';
import {
  CheckpointManager,
  checkpointingSchema,
  type CheckpointingOptions,
} from '@rxrl/checkpoint';
import { RxrlUsageError } from '@rxrl/core/base';
import {
  formatDuration,
  JsonlSink,
  MultiSink,
  ProgressSink,
  TensorBoardSink,
  writeReport,
  type MetricSink,
  type ProgressOptions,
} from '@rxrl/logging';
import type { z } from 'zod';
import { NonFiniteError, nonFiniteMetricKey } from './faults/nonFinite';
import { runnerOptionsSchema, type RunnerOptions, type RunnerOptionsInput } from './runnerOptions';
import { initialRunState, RUN_STATE_FILE, type RunState } from './runState';
import type { BatchSource, StepResult, TrainingAlgorithm } from './trainingAlgorithm';

/** Why a run ended. */
export type StopReason = 'max_num_steps' | 'max_num_epochs' | 'early_stopping' | 'signal';

export interface RunTrainingOptions<B> {
  /** the run directory: metrics.jsonl, tensorboard/, samples.jsonl, checkpoints/, report.html */
  runDir: string;
  algorithm: TrainingAlgorithm<B>;
  data: BatchSource<B>;
  /** steps, epochs, validation cadence, early stopping */
  loop: RunnerOptionsInput;
  /** the recipe's `checkpointing` section; default: enabled, every 10 steps, keep 3 */
  checkpointing?: z.input<typeof checkpointingSchema>;
  /** `auto` (default): continue from the latest checkpoint if there is one; true: require one; false: start fresh */
  resume?: boolean | 'auto';
  /** progress bar / plain progress lines; false for none. Default: on stdout */
  progress?: false | Partial<ProgressOptions>;
  /** write TensorBoard event files under `<runDir>/tensorboard` (default true) */
  tensorboard?: boolean;
  /** more sinks (e.g. a test collector) */
  sinks?: MetricSink[];
  /** finish the current step, checkpoint and stop on SIGINT/SIGTERM (default true) */
  handleSignals?: boolean;
  /** write report.html at the end (default true) */
  report?: boolean;
  /** status lines (resume, checkpoints, stop reason); default silent */
  log?: (line: string) => void;
}

export interface RunResult {
  /** steps completed in total (including those before a resume) */
  step: number;
  reason: StopReason;
  /** the signal that stopped the run (reason `signal`), else null */
  signal: NodeJS.Signals | null;
  /** the step the run resumed from, or null */
  resumedFrom: number | null;
  /** the last validation metrics, if any */
  lastValidation: Record<string, number> | null;
  /** path of report.html, when written */
  report: string | null;
}

/**
 * Runs training: pulls batches from `data` (epochs, resumable cursor), calls the
 * algorithm's `trainStep` once per step, validates at step 0 (`val_at_start`) and
 * every `val_period` steps, checkpoints every `save_period` steps and at the end,
 * stops early when the watched validation metric stops improving, streams metrics to
 * `metrics.jsonl`, TensorBoard and the progress bar, appends samples to
 * `samples.jsonl`, and writes `report.html`. SIGINT/SIGTERM finish the current step,
 * checkpoint and return with reason `signal` (a second signal exits at once).
 */
export async function runTraining<B>(options: RunTrainingOptions<B>): Promise<RunResult> {
  const loop: RunnerOptions = runnerOptionsSchema.parse(options.loop);
  const ckptOptions: CheckpointingOptions = checkpointingSchema.parse(options.checkpointing ?? {});
  const runDir = path.resolve(options.runDir);
  mkdirSync(runDir, { recursive: true });
  const userLog = options.log ?? (() => {});
  // status lines go above the progress bar on a terminal, not into it
  let progress: ProgressSink | null = null;
  const log = (line: string) => {
    progress?.clearLine();
    userLog(line);
  };
  const { algorithm } = options;

  const manager = new CheckpointManager(path.resolve(runDir, ckptOptions.checkpoint_dir), {
    keepTopK: ckptOptions.keep_top_k,
    metricName: ckptOptions.metric_name,
    higherIsBetter: ckptOptions.higher_is_better,
  });
  let state: RunState = initialRunState();
  let resumedFrom: number | null = null;
  let validatedAtResume = false;
  const resume = options.resume ?? 'auto';
  if (resume !== false) {
    const latest = manager.latest();
    if (latest === null && resume === true) {
      throw new RxrlUsageError(`--resume: no checkpoint to resume from in ${manager.root}`);
    }
    if (latest !== null) {
      const { files } = manager.load(latest.dir);
      const { [RUN_STATE_FILE]: runnerFile, ...rest } = files;
      if (!runnerFile)
        throw new RxrlUsageError(`${latest.dir}: not a runner checkpoint (no ${RUN_STATE_FILE})`);
      state = JSON.parse(new TextDecoder().decode(runnerFile)) as RunState;
      await algorithm.loadState(rest);
      resumedFrom = state.step;
      // rows written after the checkpoint belong to steps that will run again
      const kept = truncateJsonl(path.join(runDir, 'metrics.jsonl'), state.step);
      truncateJsonl(path.join(runDir, 'samples.jsonl'), state.step);
      // the checkpointed step's row already holds its validation (a finished run resumed
      // again): validating it once more would log that step twice
      validatedAtResume = kept.some(
        (row) =>
          row['step'] === state.step &&
          Object.keys((row['metrics'] as Record<string, unknown> | undefined) ?? row).some((k) =>
            k.startsWith('validation/'),
          ),
      );
      log(
        `rxrl: resumed from ${path.relative(process.cwd(), latest.dir) || latest.dir} (step ${state.step}, epoch ${state.epoch}, batch ${state.position})`,
      );
    }
  }
  if (resumedFrom === null) {
    // a fresh start appending to an earlier run's files would mix both runs in the report
    const cleared = clearEarlierRun(runDir);
    if (cleared.length > 0)
      log(
        `rxrl: starting fresh in ${path.relative(process.cwd(), runDir) || runDir}: removed the earlier run's ${cleared.join(', ')}`,
      );
    // and a later auto-resume must not pick up the earlier run's checkpoints; they may
    // hold work worth keeping, so they are moved aside, not deleted
    if (manager.latest() !== null) {
      const aside = moveAside(manager.root);
      log(
        `rxrl: starting fresh: moved the earlier run's checkpoints to ${path.relative(process.cwd(), aside) || aside}`,
      );
    }
  }

  const sinkList: MetricSink[] = [new JsonlSink(path.join(runDir, 'metrics.jsonl'))];
  if (options.tensorboard ?? true)
    sinkList.push(
      new TensorBoardSink(
        path.join(runDir, 'tensorboard'),
        resumedFrom !== null ? { resumeAt: resumedFrom + 1 } : {},
      ),
    );
  if (options.progress !== false) {
    progress = new ProgressSink({ totalSteps: loop.max_num_steps, ...options.progress });
    sinkList.push(progress);
  }
  sinkList.push(...(options.sinks ?? []));
  const sinks = new MultiSink(sinkList);
  const samplesPath = path.join(runDir, 'samples.jsonl');

  let signalled: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled !== null) process.exit(130);
    signalled = signal;
    log(
      `rxrl: ${signal} received: finishing step ${state.step + 1}, then checkpointing and stopping (again to exit now)`,
    );
  };
  const handle = options.handleSignals ?? true;
  if (handle) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }

  let lastValidation: Record<string, number> | null = null;
  let lastSaved = resumedFrom ?? -1;
  let lastValidated = validatedAtResume && resumedFrom !== null ? resumedFrom : -1;
  // the run's length, estimated once from its first steps (validation timed apart)
  const estimate = { trainSeconds: 0, steps: 0, validationSeconds: 0, validations: 0, done: false };
  const emit = (step: number, result: StepResult) => {
    sinks.record({
      step,
      metrics: result.metrics,
      ...(result.histograms ? { histograms: result.histograms } : {}),
    });
    if (result.samples && result.samples.length > 0) {
      appendFileSync(
        samplesPath,
        result.samples.map((s) => JSON.stringify({ step, ...s }) + '\n').join(''),
      );
    }
  };
  const validate = async (step: number): Promise<StepResult | null> => {
    if (!algorithm.validate) return null;
    const v0 = performance.now();
    const result = await algorithm.validate(step);
    estimate.validationSeconds += (performance.now() - v0) / 1000;
    estimate.validations++;
    lastValidation = result.metrics;
    lastValidated = step;
    return result;
  };
  // returns true when early stopping fires
  const watch = (metrics: Record<string, number>): boolean => {
    const es = loop.early_stopping;
    if (!es) return false;
    const value = metrics[es.metric];
    if (value === undefined) {
      throw new RxrlUsageError(
        `early_stopping.metric '${es.metric}' is not among the validation metrics (${Object.keys(metrics).join(', ')})`,
      );
    }
    const better =
      state.best === null ||
      (es.higher_is_better ? value > state.best + es.min_delta : value < state.best - es.min_delta);
    if (better) {
      state.best = value;
      state.sinceBest = 0;
    } else {
      state.sinceBest++;
    }
    return state.sinceBest >= es.patience;
  };
  const save = async (metrics: Record<string, number>) => {
    if (!ckptOptions.enabled || lastSaved === state.step) return;
    const files = { ...(await algorithm.saveState()), [RUN_STATE_FILE]: JSON.stringify(state) };
    const info = manager.save({ step: state.step, metrics, files });
    lastSaved = state.step;
    log(`rxrl: checkpoint ${path.relative(runDir, info.dir)}`);
  };

  let reason: StopReason = 'max_num_epochs';
  let lastMetrics: Record<string, number> = {};
  try {
    if (loop.val_at_start && state.step === 0) {
      const v = await validate(0);
      if (v) emit(0, v);
    }
    outer: while (state.epoch < loop.max_num_epochs) {
      if (state.step >= loop.max_num_steps) {
        reason = 'max_num_steps';
        break;
      }
      // one iterator for the loop and for `more`, so batches a step pulls are not seen again
      const epochBatches = batchIterator(options.data.batches(state.epoch, state.position));
      const epoch = { [Symbol.asyncIterator]: () => epochBatches as AsyncIterator<B> };
      for await (const batch of epoch) {
        const step = state.step + 1;
        const t0 = performance.now();
        // batches the step pulls beyond its own (dynamic sampling) move the cursor too
        let pulled = 0;
        const more = async (): Promise<B | undefined> => {
          const r = await epochBatches.next();
          if (r.done) return undefined;
          pulled++;
          return r.value;
        };
        let result: StepResult;
        try {
          result = await algorithm.trainStep(batch, step, more);
        } catch (err) {
          if (!(err instanceof NonFiniteError)) throw err;
          const fault = err.atStep(step);
          if (loop.on_nonfinite === 'stop') {
            log(`rxrl: ${fault.message}; stopping (policy.on_nonfinite: stop)`);
            await save(lastMetrics);
            throw fault;
          }
          // skip_step: the update was never applied; the batch is consumed and the step counted
          log(`rxrl: ${fault.message}; skipped (policy.on_nonfinite: skip_step)`);
          result = { metrics: { [nonFiniteMetricKey(fault.metric)]: 1 } };
        }
        state.step = step;
        state.position += 1 + pulled;
        estimate.trainSeconds += (performance.now() - t0) / 1000;
        estimate.steps++;
        if (!estimate.done && estimate.steps >= ESTIMATE_AFTER_STEPS) {
          estimate.done = true;
          log(expectedDurationLine(estimate, state.step, loop));
        }
        const metrics: Record<string, number> = {
          ...result.metrics,
          'timing/total_step_time': (performance.now() - t0) / 1000,
        };
        const samples = [...(result.samples ?? [])];
        let stop = false;
        const periodic = loop.val_period > 0 && step % loop.val_period === 0;
        const final = step >= loop.max_num_steps && loop.val_at_end;
        if (periodic || final) {
          const v = await validate(step);
          if (v) {
            Object.assign(metrics, v.metrics);
            samples.push(...(v.samples ?? []));
            stop = watch(v.metrics);
          }
        }
        emit(step, {
          metrics,
          samples,
          ...(result.histograms ? { histograms: result.histograms } : {}),
        });
        lastMetrics = metrics;
        if (ckptOptions.enabled && step % ckptOptions.save_period === 0) await save(metrics);
        if (stop) {
          reason = 'early_stopping';
          break outer;
        }
        // a step is synchronous tensor work: yield to the event loop so a pending
        // SIGINT/SIGTERM handler (and stdout) runs between steps, not only at the end
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (signalled !== null) {
          reason = 'signal';
          break outer;
        }
        if (step >= loop.max_num_steps) {
          reason = 'max_num_steps';
          break outer;
        }
      }
      state.epoch++;
      state.position = 0;
    }
    if (loop.val_at_end && lastValidated !== state.step && reason !== 'signal') {
      const v = await validate(state.step);
      if (v) {
        emit(state.step, v);
        lastMetrics = { ...lastMetrics, ...v.metrics };
      }
    }
    await save(lastMetrics);
  } finally {
    if (handle) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    sinks.close();
  }
  log(`rxrl: stopped after step ${state.step} (${reason})`);
  const report = (options.report ?? true) ? writeReport(runDir) : null;
  return {
    step: state.step,
    reason,
    signal: reason === 'signal' ? signalled : null,
    resumedFrom,
    lastValidation,
    report,
  };
}

/** Keeps the JSONL rows whose `step` is at most `step`; returns them. */
function truncateJsonl(file: string, step: number): Record<string, unknown>[] {
  if (!existsSync(file)) return [];
  const rows = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => ({ line, row: JSON.parse(line) as Record<string, unknown> }))
    .filter(({ row }) => (row['step'] as number) <= step);
  writeFileSync(file, rows.map(({ line }) => line + '\n').join(''));
  return rows.map(({ row }) => row);
}

/** Steps timed before the run says how long it expects to take. */
export const ESTIMATE_AFTER_STEPS = 10;

/**
 * `rxrl: expected duration ≈ 5m50s (…)`: the remaining steps at the mean time of the
 * steps so far, plus the validations still due at the mean time of those so far.
 */
export function expectedDurationLine(
  e: { trainSeconds: number; steps: number; validationSeconds: number; validations: number },
  step: number,
  loop: RunnerOptions,
): string {
  const perStep = e.trainSeconds / e.steps;
  const remaining = loop.max_num_steps - step;
  const dueValidations =
    (loop.val_period > 0
      ? Math.floor(loop.max_num_steps / loop.val_period) - Math.floor(step / loop.val_period)
      : 0) +
    (loop.val_at_end && (loop.val_period === 0 || loop.max_num_steps % loop.val_period !== 0)
      ? 1
      : 0);
  const perValidation = e.validations > 0 ? e.validationSeconds / e.validations : 0;
  const total =
    e.trainSeconds + e.validationSeconds + remaining * perStep + dueValidations * perValidation;
  const validationPart =
    e.validations > 0
      ? `, ${dueValidations} validation${dueValidations === 1 ? '' : 's'} to come at ${formatDuration(perValidation)} each`
      : '';
  return `rxrl: expected duration ≈ ${formatDuration(total)} for ${loop.max_num_steps} steps (${(perStep * 1000).toFixed(0)} ms a step over the first ${e.steps}${validationPart})`;
}

/** TensorBoard event files, as `TensorBoardSink` names them under `<runDir>/tensorboard`. */
const EVENT_FILE_PREFIX = 'events.out.tfevents.';

/**
 * Removes what an earlier run left in `runDir` that a new run would append to:
 * metrics.jsonl, samples.jsonl and the TensorBoard event files (TensorBoard reads
 * every event file in the directory, so old ones would show as the same run).
 * Checkpoints are left as they are.
 * Returns what was removed, for the log line.
 */
function clearEarlierRun(runDir: string): string[] {
  const cleared: string[] = [];
  for (const name of ['metrics.jsonl', 'samples.jsonl']) {
    const file = path.join(runDir, name);
    if (!existsSync(file)) continue;
    rmSync(file);
    cleared.push(name);
  }
  const tensorboard = path.join(runDir, 'tensorboard');
  if (existsSync(tensorboard)) {
    const events = readdirSync(tensorboard).filter((f) => f.startsWith(EVENT_FILE_PREFIX));
    for (const f of events) rmSync(path.join(tensorboard, f));
    if (events.length > 0)
      cleared.push(`tensorboard/ (${events.length} event file${events.length === 1 ? '' : 's'})`);
  }
  return cleared;
}

/** Renames `dir` to `<dir>.earlier-<n>` (the first free n) and returns the new path. */
function moveAside(dir: string): string {
  let n = 1;
  while (existsSync(`${dir}.earlier-${n}`)) n++;
  const target = `${dir}.earlier-${n}`;
  renameSync(dir, target);
  return target;
}

/** One epoch's batches as an iterator the loop and a step's `more` share. */
function batchIterator<B>(batches: Iterable<B> | AsyncIterable<B>): Iterator<B> | AsyncIterator<B> {
  return Symbol.asyncIterator in batches
    ? batches[Symbol.asyncIterator]()
    : (batches as Iterable<B>)[Symbol.iterator]();
}
