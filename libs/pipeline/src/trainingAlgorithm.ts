import type { CheckpointFileData } from '@rxrl/checkpoint';
/** What a training step or a validation pass reports to the runner. */
export interface StepResult {
  /** metrics with `train/`, `validation/`, `timing/` or `performance/` prefixes */
  metrics: Record<string, number>;
  /** example generations etc., appended to `samples.jsonl` with the step */
  samples?: Record<string, unknown>[];
  /** per-sample arrays, written as TensorBoard histograms */
  histograms?: Record<string, ArrayLike<number>>;
}

/** Pulls the next batch of the current epoch, or `undefined` when the epoch has no more. */
export type MoreBatches<B> = () => Promise<B | undefined>;

/**
 * Files of a checkpoint: names to text, bytes, or byte pieces written in
 * order. Pieces may view live tensors: the runner writes them before the next step.
 */
export type StateFiles = Record<string, CheckpointFileData>;

/**
 * An algorithm as the runner drives it: the runner owns the loop (steps, epochs,
 * data cursor, validation and checkpoint cadence, early stop, sinks, signals);
 * the algorithm does one step on a batch, validates, and (de)serialises its state
 * (weights, optimizer, RNG) for checkpoints.
 */
export interface TrainingAlgorithm<B> {
  /**
   * One optimisation step on `batch`; `step` counts from 1. `more` pulls the
   * next batch of the same epoch for a step that needs more data than one batch
   * (GRPO's dynamic sampling refills its batch this way); it resolves to
   * `undefined` at the end of the epoch. Batches pulled through it advance the
   * data cursor like the step's own, so a resume continues after them.
   */
  trainStep(batch: B, step: number, more: MoreBatches<B>): Promise<StepResult> | StepResult;
  /** a validation pass after `step` steps (0 before training) */
  validate?(step: number): Promise<StepResult> | StepResult;
  /** everything needed to continue exactly: weights, optimizer state, RNG states */
  saveState(): Promise<StateFiles> | StateFiles;
  /** restores what `saveState` wrote */
  loadState(files: Record<string, Uint8Array>): Promise<void> | void;
}

/**
 * Training data as the runner pulls it: the batches of one epoch starting at
 * batch `position`. Must be deterministic for a given epoch (shuffle seeded by
 * the epoch), which is what makes `(epoch, position)` a resumable data cursor.
 */
export interface BatchSource<B> {
  batches(epoch: number, position: number): Iterable<B> | AsyncIterable<B>;
}
