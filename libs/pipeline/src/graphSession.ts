import { Subject, type Subscription } from 'rxjs';
import type { RecordBatch } from 'apache-arrow';
import { RxrlError, type Stage } from '@rxrl/core/base';

/** A graph subscribed once, fed one batch at a time. */
export interface GraphSession {
  /** Sends `batch` into the graph and resolves with the batch the graph makes of it. */
  push(batch: RecordBatch): Promise<RecordBatch>;
  /** Completes the graph's input (stages release what they hold, e.g. reward worker threads). */
  close(): void;
}

/**
 * Subscribes `graph` once, for a whole run, over a stream the caller feeds: the
 * stages are built once and keep their per-subscription state across steps,
 * instead of a one-item Observable per step. A training graph maps each batch
 * to one batch (rows may be added, masked or dropped, never the batch itself);
 * a batch out that nothing waits for, or a graph that completes or fails, is
 * reported to the waiting step, and every later push fails with the same error.
 */
export function openGraphSession(graph: Stage): GraphSession {
  const input = new Subject<RecordBatch>();
  const waiting: { resolve(b: RecordBatch): void; reject(e: unknown): void }[] = [];
  let failure: unknown = null;
  const fail = (err: unknown) => {
    failure ??= err;
    for (const w of waiting.splice(0)) w.reject(failure);
  };
  const subscription: Subscription = graph(input).subscribe({
    next: (batch) => {
      const w = waiting.shift();
      if (w) w.resolve(batch);
      else
        fail(new RxrlError('the graph emitted a batch no input asked for (one batch in, one out)'));
    },
    error: fail,
    complete: () => fail(new RxrlError('the graph completed while batches were still being sent')),
  });
  return {
    push(batch) {
      if (failure !== null) return Promise.reject(failure);
      return new Promise<RecordBatch>((resolve, reject) => {
        waiting.push({ resolve, reject });
        input.next(batch);
      });
    },
    close() {
      failure ??= new RxrlError('the graph session is closed');
      input.complete();
      subscription.unsubscribe();
    },
  };
}
