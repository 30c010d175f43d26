import type { RecordBatch } from 'apache-arrow';
import type { Rng } from '@rxrl/core/base';

/**
 * What a grouping strategy sees of a batch: plain typed arrays, one entry per
 * sample, read from the Arrow columns by the stage (or built by hand).
 */
export interface GroupingInput {
  /** `prompt_id` per sample. */
  promptIds: Int32Array;
  /** `reward` per sample; NaN is a missing reward. */
  rewards: Float32Array;
  /** One embedding row per sample (all the same length), when the batch has them. */
  embeddings?: readonly Float32Array[];
  /** Completion length in tokens per sample, when known. */
  completionLengths?: Int32Array;
  /** `completion_text` per sample, when the batch has it (for the distinct-completion metric). */
  completionTexts?: readonly (string | null)[];
}

/** Group-size bounds every strategy respects (inclusive; `max` may be Infinity). */
export interface GroupSizeBounds {
  min: number;
  max: number;
}

/** Where training stands, and the randomness a strategy may use. */
export interface GroupingContext {
  /** Training step of this batch (0-based). */
  step: number;
  /** Total number of training steps (`grpo.max_num_steps`); progress is `step / totalSteps`. */
  totalSteps: number;
  /** Seeded generator: a strategy draws only from this, so a seed fixes the grouping. */
  rng: Rng;
  /** `min_group_size` / `max_group_size`; the result is fitted to them afterwards anyway. */
  bounds: GroupSizeBounds;
}

/**
 * A group formation strategy: one group id per sample (any non-negative
 * integers; they are relabelled 0..G-1 in order of first appearance and fitted
 * to the size bounds by {@link formGroups}).
 */
export type GroupingStrategy<O = any> = (
  samples: GroupingInput,
  options: O,
  ctx: GroupingContext,
) => Int32Array;

/**
 * Computes one embedding row per sample of a batch, for strategies that need
 * embeddings when the batch has no `embedding` column. In a GRPO run the algorithm
 * layer supplies one (`PromptEmbedder` in `@rxrl/algorithms`): the last hidden state of
 * the policy, or of an embedding model directory, mean-pooled over each prompt's tokens
 * and cached per prompt; any sentence encoder works as long as it returns
 * `batch.numRows` rows of equal length.
 */
export type Embedder = (batch: RecordBatch) => Promise<Float32Array[]>;
