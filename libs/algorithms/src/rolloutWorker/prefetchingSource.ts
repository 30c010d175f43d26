import type { RecordBatch } from 'apache-arrow';
import { COLUMNS, readListColumn } from '@rxrl/core/base';
import type { BatchSource } from '@rxrl/pipeline';

/**
 * `source` read `depth` batches ahead: when the trainer takes batch k, batches
 * k+1..k+depth are already drawn, and every batch is handed to `ahead` as it is
 * drawn (to start its generation while earlier steps train). Batches, their
 * order, positions and epochs are the source's, so a resumed run reads the same.
 */
export function prefetchingSource(
  source: BatchSource<RecordBatch>,
  ahead: (batch: RecordBatch) => void,
  depth = 1,
): BatchSource<RecordBatch> {
  return {
    async *batches(epoch, position) {
      const it = toAsyncIterator(source.batches(epoch, position));
      const window: RecordBatch[] = [];
      let done = false;
      for (;;) {
        while (!done && window.length < depth + 1) {
          const r = await it.next();
          if (r.done) done = true;
          else {
            ahead(r.value);
            window.push(r.value);
          }
        }
        const cur = window.shift();
        if (cur === undefined) return;
        yield cur;
      }
    },
  };
}

function toAsyncIterator<T>(it: Iterable<T> | AsyncIterable<T>): AsyncIterator<T> | Iterator<T> {
  return Symbol.asyncIterator in it
    ? (it as AsyncIterable<T>)[Symbol.asyncIterator]()
    : (it as Iterable<T>)[Symbol.iterator]();
}

/**
 * A prompt batch as `rollout.generate` hands it to generation: its prompt
 * token lists and the group keys (`prompt_id`, else the row index — the stage
 * starts its running index at 0 for every batch of a step).
 */
export function generationRequestOf(batch: RecordBatch): {
  prompts: Int32Array[];
  keys: (number | string)[];
} {
  const tokens = readListColumn(batch, COLUMNS.promptTokens, 'int32');
  const prompts: Int32Array[] = [];
  for (let r = 0; r < batch.numRows; r++)
    prompts.push(tokens.values.slice(tokens.offsets[r]!, tokens.offsets[r + 1]!));
  const ids = batch.getChild(COLUMNS.promptId);
  // as the stage names them: a prompt_id seen again within the batch gets `id#k`
  const seen = new Map<number, number>();
  const keys = Array.from({ length: batch.numRows }, (_, r) => {
    const g = ids ? Number(ids.get(r)) : r;
    const k = seen.get(g) ?? 0;
    seen.set(g, k + 1);
    return k === 0 ? g : `${g}#${k}`;
  });
  return { prompts, keys };
}
