import { RecordBatch, Schema } from 'apache-arrow';

/** Schema metadata key holding the training step a batch belongs to (set where batches enter a run's graph). */
export const STEP_METADATA_KEY = 'rxrl.step';

/**
 * Schema metadata key holding which generation batch of its step a batch is (0 for
 * the first; dynamic sampling's refill batches count up from 1).
 */
export const ROUND_METADATA_KEY = 'rxrl.generation_round';

/** Where a batch sits in a run: its step (from 1) and its generation round within the step. */
export interface BatchMeta {
  step: number;
  round: number;
}

function metadataNumber(batch: RecordBatch, key: string): number | undefined {
  const raw = batch.schema.metadata.get(key);
  return raw === undefined ? undefined : Number(raw);
}

/**
 * The one way a stage learns which step a batch belongs to: the batch's schema
 * metadata, written once by {@link withBatchMeta} where the batch enters the graph.
 * Undefined for a batch that was never tagged (a graph used outside a run).
 */
export function batchMeta(batch: RecordBatch): BatchMeta | undefined {
  const step = metadataNumber(batch, STEP_METADATA_KEY);
  if (step === undefined) return undefined;
  return { step, round: metadataNumber(batch, ROUND_METADATA_KEY) ?? 0 };
}

/** The step of a batch (0 when untagged). */
export function batchStep(batch: RecordBatch): number {
  return batchMeta(batch)?.step ?? 0;
}

/** `batch` (same columns, no copy) tagged with its step and generation round. */
export function withBatchMeta(batch: RecordBatch, meta: BatchMeta): RecordBatch {
  const metadata = new Map(batch.schema.metadata);
  metadata.set(STEP_METADATA_KEY, String(meta.step));
  metadata.set(ROUND_METADATA_KEY, String(meta.round));
  return new RecordBatch(new Schema(batch.schema.fields, metadata), batch.data);
}
