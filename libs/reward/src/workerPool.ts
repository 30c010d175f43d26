import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { z } from 'zod';
import { workerExecArgv } from '@rxrl/core/base';
import { checkRewardValue, moduleUrl } from './jsFunctionReward';
import { RewardFatalError, type RewardSample, type RewardValue } from './sample';

/** Options of a verifier worker pool (`reward.worker`). */
export const workerPoolOptions = z.strictObject({
  /** Verifier module: a path (relative to the working directory) to a .js/.mjs or, via tsx, a .ts module. */
  module: z.string().min(1),
  /** Exported function `(sample) => number | null | Promise<...>` to call. */
  export: z.string().min(1).default('default'),
  /** Worker threads; default: CPU cores − 1, at least 1. */
  num_workers: z
    .number()
    .int()
    .positive()
    .default(() => Math.max(1, availableParallelism() - 1)),
  /** Per-sample time limit in milliseconds; a worker past it is terminated and replaced, the sample gets null. */
  timeout_ms: z.number().int().positive().default(10_000),
  /** How workers load the module: `auto` adds tsx for .ts/.mts/.cts modules, `tsx` always, `native` never. */
  loader: z.enum(['auto', 'tsx', 'native']).default('auto'),
});
export type WorkerPoolOptions = z.infer<typeof workerPoolOptions>;

/** How one sample went in the pool. */
export interface WorkerOutcome {
  value: RewardValue;
  status: 'ok' | 'timeout' | 'error';
  /** What went wrong, for `error` and `timeout`. */
  detail?: string;
}

interface Task {
  sample: RewardSample;
  resolve: (o: WorkerOutcome) => void;
  reject: (e: unknown) => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  task?: Task & { id: number; timer: NodeJS.Timeout };
}

const WORKER_SCRIPT = new URL('./rewardWorker.mjs', import.meta.url);

/**
 * A pool of worker threads running one verifier module, for verifiers that are CPU-heavy
 * (they would stall the pipeline's event loop) or untrusted (they may hang). Each sample has
 * a time limit: a verifier that loops forever is terminated with its thread and replaced, and
 * the sample gets null with status `timeout`; one that throws gives null with status `error`.
 * A module that cannot load fails every pending sample with `RewardFatalError`.
 */
export class RewardWorkerPool {
  readonly options: WorkerPoolOptions;
  /** Running totals since the pool was made. */
  readonly stats = { completed: 0, timeouts: 0, errors: 0, restarts: 0 };
  /** Worker threads alive across all pools in this process (for leak checks). */
  static liveThreads = 0;
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private readonly useTsx: boolean;
  private readonly url: string;
  private fatal: RewardFatalError | undefined;
  private closed = false;
  private nextId = 0;

  constructor(options: z.input<typeof workerPoolOptions>) {
    this.options = workerPoolOptions.parse(options);
    this.url = moduleUrl(this.options.module);
    const ts = /\.[cm]?ts$/.test(new URL(this.url).pathname);
    this.useTsx = this.options.loader === 'tsx' || (this.options.loader === 'auto' && ts);
  }

  /** Scores one sample in a worker. Resolves with null and a status for timeouts and throws; rejects only on fatal errors. */
  run(sample: RewardSample): Promise<WorkerOutcome> {
    if (this.closed) return Promise.reject(new RewardFatalError('reward.worker: pool is closed'));
    if (this.fatal) return Promise.reject(this.fatal);
    return new Promise<WorkerOutcome>((resolve, reject) => {
      this.queue.push({ sample, resolve, reject });
      if (
        this.slots.length < this.options.num_workers &&
        this.slots.every((s) => s.task || !s.ready)
      )
        this.spawn();
      this.dispatch();
    });
  }

  /** Terminates all workers; queued and in-flight samples fail. */
  async close(): Promise<void> {
    this.closed = true;
    const closedError = () =>
      new RewardFatalError('reward.worker: pool closed with samples pending');
    for (const t of this.queue.splice(0)) t.reject(closedError());
    const slots = this.slots.splice(0);
    RewardWorkerPool.liveThreads -= slots.length;
    for (const slot of slots) {
      if (!slot.task) continue;
      clearTimeout(slot.task.timer);
      slot.task.reject(closedError());
      slot.task = undefined;
    }
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  /** Number of live worker threads. */
  get size(): number {
    return this.slots.length;
  }

  private spawn(): void {
    const slot: Slot = {
      worker: new Worker(WORKER_SCRIPT, {
        workerData: {
          moduleUrl: this.url,
          module: this.options.module,
          exportName: this.options.export,
          useTsx: this.useTsx,
        },
        // The parent's flags (a test runner's, a debugger's) are not the verifier's business;
        // from the workspace's sources the worker resolves @rxrl packages to sources too.
        execArgv: workerExecArgv(import.meta.url),
      }),
      ready: false,
    };
    this.slots.push(slot);
    RewardWorkerPool.liveThreads++;
    slot.worker.on(
      'message',
      (m: { ready?: true; id?: number; value?: unknown; error?: string }) => {
        if (m.ready) {
          slot.ready = true;
          this.dispatch();
          return;
        }
        const t = slot.task;
        if (!t || t.id !== m.id) return;
        this.finish(slot, this.outcome(m));
      },
    );
    slot.worker.on('error', (e: Error) => {
      if (!slot.ready) {
        // The module failed to load: every worker would fail the same way.
        this.fatal = new RewardFatalError(
          `reward.worker: cannot load verifier '${this.options.module}' export '${this.options.export}': ${e.message}`,
          { cause: e },
        );
        this.remove(slot);
        for (const t of this.queue.splice(0)) t.reject(this.fatal);
        return;
      }
      // An uncaught error outside the verifier's promise (a stray timer that throws): the thread is gone.
      if (slot.task) this.finish(slot, { value: null, status: 'error', detail: e.message }, true);
      else this.replace(slot);
    });
    slot.worker.on('exit', (code) => {
      // Only an exit we did not cause (the verifier called process.exit) finds the slot still listed.
      if (!this.slots.includes(slot)) return;
      if (slot.task)
        this.finish(
          slot,
          { value: null, status: 'error', detail: `worker exited with code ${code}` },
          true,
        );
      else this.replace(slot);
    });
  }

  private outcome(m: { value?: unknown; error?: string }): WorkerOutcome {
    if (m.error !== undefined) return { value: null, status: 'error', detail: m.error };
    try {
      return {
        value: checkRewardValue(m.value, `${this.options.module}#${this.options.export}`),
        status: 'ok',
      };
    } catch (e) {
      return { value: null, status: 'error', detail: (e as Error).message };
    }
  }

  private finish(slot: Slot, outcome: WorkerOutcome, replace = false): void {
    const t = slot.task!;
    clearTimeout(t.timer);
    slot.task = undefined;
    if (outcome.status === 'ok') this.stats.completed++;
    else if (outcome.status === 'timeout') this.stats.timeouts++;
    else this.stats.errors++;
    t.resolve(outcome);
    if (replace) this.replace(slot);
    this.dispatch();
  }

  private remove(slot: Slot): void {
    const i = this.slots.indexOf(slot);
    if (i >= 0) {
      this.slots.splice(i, 1);
      RewardWorkerPool.liveThreads--;
    }
    void slot.worker.terminate();
  }

  private replace(slot: Slot): void {
    this.remove(slot);
    if (this.closed || this.fatal) return;
    this.stats.restarts++;
    if (this.queue.length > 0) this.spawn();
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) break;
      if (!slot.ready || slot.task) continue;
      const task = this.queue.shift()!;
      const id = this.nextId++;
      const timer = setTimeout(() => {
        // terminate() stops even a synchronous infinite loop; the slot gets a fresh thread.
        this.finish(
          slot,
          {
            value: null,
            status: 'timeout',
            detail: `no result after ${this.options.timeout_ms} ms`,
          },
          true,
        );
      }, this.options.timeout_ms);
      slot.task = { ...task, id, timer };
      slot.worker.ref();
      slot.worker.postMessage({ id, sample: task.sample });
    }
    // Idle threads must not keep the process alive; busy ones are held by their timers.
    for (const slot of this.slots) if (slot.ready && !slot.task) slot.worker.unref();
  }
}
