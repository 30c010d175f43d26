import { Worker } from 'node:worker_threads';
import { isSourceModule, workerExecArgv } from '@rxrl/core/base';

/**
 * Encodes text in a worker thread with the model directory's tokenizer (a
 * second copy of it), so `rxrl serve` answers /health and other requests
 * while a long prompt is tokenised. Jobs run in order, one at a time.
 */
export class WorkerEncoder {
  private readonly worker: Worker;
  private readonly pending = new Map<
    number,
    { resolve(ids: number[]): void; reject(e: Error): void }
  >();
  private next = 0;
  private failure: Error | null = null;

  private constructor(
    worker: Worker,
    private readonly onFailure: (e: Error) => void,
  ) {
    this.worker = worker;
    worker.on('message', (m: { id: number; ids?: Int32Array; error?: string }) => {
      const job = this.pending.get(m.id);
      if (!job) return;
      this.pending.delete(m.id);
      if (m.ids) job.resolve(Array.from(m.ids));
      else job.reject(new Error(m.error ?? 'tokenizer worker failed'));
    });
    const fail = (e: Error) => {
      if (this.failure === null) this.onFailure(e);
      this.failure = e;
      for (const job of this.pending.values()) job.reject(e);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the tokenizer worker exited (${code})`)));
  }

  /**
   * Start a worker that loads the tokenizer of model directory `dir`; resolves once it is
   * loaded. `onFailure` hears once if the worker dies later.
   */
  static start(
    dir: string,
    onFailure: (e: Error) => void = () => undefined,
  ): Promise<WorkerEncoder> {
    // the worker runs what the CLI runs: the TypeScript sources through tsx in the
    // workspace, the built JavaScript when installed (tokenizeWorker.mjs)
    const worker = new Worker(new URL('./tokenizeWorker.mjs', import.meta.url), {
      workerData: { dir, fromSource: isSourceModule(import.meta.url) },
      execArgv: workerExecArgv(import.meta.url),
    });
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      worker.once('error', onError);
      worker.once('message', () => {
        worker.off('error', onError);
        resolve(new WorkerEncoder(worker, onFailure));
      });
    });
  }

  /** False once the worker has died (then every `encode` rejects). */
  get alive(): boolean {
    return this.failure === null;
  }

  /** Token ids of `text` (the tokenizer's own `encode`). */
  encode(text: string, addSpecialTokens: boolean): Promise<number[]> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, text, addSpecialTokens });
    });
  }

  /** Stop the worker. */
  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}
