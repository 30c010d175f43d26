import { Worker } from 'node:worker_threads';
import {
  currentBackend,
  isSourceModule,
  RxrlConfigError,
  RxrlError,
  siblingModule,
  workerExecArgv,
} from '@rxrl/core';
import { CausalLM, type HostTensor, type ModelConfig } from '@rxrl/model';
import { AdamW } from '@rxrl/optimizer';
import { applySummedGradient, writeToFlat } from './flatParams';
import {
  DataParallelOptionsSchema,
  moduleUrl,
  type DataParallelOptions,
  type DataParallelOptionsInput,
} from './dataParallelOptions';
import { ParamLayout } from './paramLayout';
import {
  sharedBytes,
  sharedRegions,
  type Reply,
  type ReplicaInit,
  type ReplicaWorkerData,
  type Request,
  type SharedRegions,
} from './protocol';
import { shardRows, type TrainBatch } from './trainBatch';

const WORKER_SCRIPT = new URL('./replicaWorker.mjs', import.meta.url);

type Done = Extract<Reply, { op: 'done' }>;
type RequestBody = Request extends infer R ? (R extends Request ? Omit<R, 'id'> : never) : never;

/** What one data-parallel step did. */
export interface StepResult {
  /** the full-batch loss (sum of the shards' globally normalised losses) */
  loss: number;
  /** global L2 norm of the summed gradient, before clipping */
  gradNorm: number;
  /** wall milliseconds of each phase: forward+backward, gradient all-reduce, optimizer (+ weight broadcast) */
  timing: { compute_ms: number; reduce_ms: number; update_ms: number; total_ms: number };
  /** tensors alive in each worker after the step (flat from step to step unless something leaks) */
  workerTensors: number[];
}

interface Slot {
  index: number;
  worker: Worker;
  pending: Map<number, { resolve: (r: Done) => void; reject: (e: Error) => void }>;
}

/**
 * Data-parallel training over worker threads. Each worker holds a replica of
 * the policy (TensorFlow.js runs one thread per backend instance, so a replica
 * per thread is how a step uses every core). A step splits the global batch by
 * rows between the workers; each computes its shard's loss and gradients with
 * the global normalisers and writes them into its region of one
 * SharedArrayBuffer; the workers then sum the regions slice by slice
 * (reduce-scatter), and one AdamW step is applied to the summed gradient —
 * by every worker to its own replica (`replicated_optimizer`), by each worker to
 * its share of the variables followed by a copy of the rest (`sharded_optimizer`),
 * or by the main thread, which then broadcasts the weights (`broadcast_weights`). No tensor
 * crosses a thread. A worker that fails stops the trainer: the step rejects with
 * the worker's error and every worker is terminated.
 */
export class DataParallelTrainer {
  /** worker threads alive across all trainers in this process (for leak checks) */
  static liveWorkers = 0;
  readonly options: DataParallelOptions;
  readonly layout: ParamLayout;
  /** the backend the workers run on */
  readonly workerBackend: string;
  private readonly slots: Slot[];
  private readonly regions: SharedRegions;
  private readonly master: { model: CausalLM; optimizer: AdamW } | null;
  private readonly attachPromise: Promise<Done[]>;
  private failure: Error | null = null;
  private disposed = false;
  private terminated = false;
  private nextId = 0;
  private busy = false;

  private constructor(
    options: DataParallelOptions,
    slots: Slot[],
    layout: ParamLayout,
    backend: string,
    master: DataParallelTrainer['master'],
  ) {
    this.options = options;
    this.slots = slots;
    this.layout = layout;
    this.workerBackend = backend;
    this.master = master;
    const buffer = new SharedArrayBuffer(sharedBytes(slots.length, layout.total));
    this.regions = sharedRegions(buffer, slots.length, layout.total);
    for (const s of slots) this.watch(s);
    this.attachPromise = Promise.all(slots.map((s) => this.call(s, { op: 'attach', buffer })));
  }

  /**
   * Starts `num_workers` replicas of `config`, all from the same `init` (a seed
   * or HF-named weights), and resolves once every one is loaded. With
   * `broadcast_weights` the main thread also builds the master copy on its
   * current backend.
   */
  static async create(
    config: ModelConfig,
    init: ReplicaInit,
    options: DataParallelOptionsInput = {},
  ): Promise<DataParallelTrainer> {
    const parsed = DataParallelOptionsSchema.safeParse(options);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new RxrlConfigError(`parallel: option '${issue.path.join('.')}': ${issue.message}`);
    }
    const o = parsed.data;
    const backend = o.backend ?? currentBackend()?.backend ?? 'auto';
    const url = moduleUrl(o.step_module);
    // tsx in the worker: the replica is TypeScript in the workspace, and a step module may be TypeScript
    const useTsx = isSourceModule(import.meta.url) || /\.[cm]?ts$/.test(new URL(url).pathname);
    const workers: Worker[] = [];
    try {
      const ready = await Promise.all(
        Array.from({ length: o.num_workers }, (_, index) => {
          const wd: ReplicaWorkerData = {
            index,
            numWorkers: o.num_workers,
            config,
            init,
            stepModuleUrl: url,
            stepModule: o.step_module,
            stepExport: o.step_export,
            microBatch: o.train_micro_batch_size,
            maxGradNorm: o.max_grad_norm,
            optimizer: o.optimizer,
            optimizerScope: (
              {
                replicated_optimizer: 'all',
                sharded_optimizer: 'shard',
                sharded_flat: 'flat',
                broadcast_weights: 'none',
              } as const
            )[o.sync],
            backend,
            useTsx,
            replicaUrl: siblingModule(import.meta.url, './replica').href,
          };
          // The parent's flags (a test runner's, a debugger's) are not the replica's business.
          // The cores are split between replicas: a native (OpenBLAS) matMul gets one thread per worker unless the user chose.
          const env = {
            ...process.env,
            RXRL_NATIVE_MATMUL_THREADS: process.env['RXRL_NATIVE_MATMUL_THREADS'] ?? '1',
          };
          const worker = new Worker(WORKER_SCRIPT, {
            workerData: wd,
            execArgv: workerExecArgv(import.meta.url),
            env,
          });
          workers.push(worker);
          DataParallelTrainer.liveWorkers++;
          return waitReady(worker, index, o);
        }),
      );
      const layout = new ParamLayout(ready[0]!.layout);
      ready.forEach((r, i) =>
        layout.assertSame(new ParamLayout(r.layout), `parallel: worker ${i}`),
      );
      const slots = workers.map((worker, index) => ({ index, worker, pending: new Map() }));
      let master: DataParallelTrainer['master'] = null;
      if (o.sync === 'broadcast_weights') {
        const model =
          'seed' in init
            ? CausalLM.create(config, { seed: init.seed })
            : CausalLM.fromHfWeights(config, init.weights, { source: 'parallel init weights' });
        const vars = model.trainableVariables();
        layout.assertSame(
          new ParamLayout([...vars].map(([name, v]) => ({ name, shape: v.shape }))),
          'parallel: main-thread master model',
        );
        master = { model, optimizer: new AdamW(Object.fromEntries(vars), o.optimizer) };
      }
      const trainer = new DataParallelTrainer(o, slots, layout, ready[0]!.backend, master);
      await trainer.attachPromise;
      return trainer;
    } catch (e) {
      DataParallelTrainer.liveWorkers -= workers.length;
      await Promise.all(workers.map((w) => w.terminate()));
      throw e;
    }
  }

  /** Number of worker threads (replicas). */
  get numWorkers(): number {
    return this.slots.length;
  }

  /**
   * One optimizer step over `batch` (its `globals` must carry the global
   * normalisers the step's loss needs). Rows are split between workers in
   * contiguous near-equal shards.
   */
  async step(batch: TrainBatch): Promise<StepResult> {
    this.usable();
    if (this.busy)
      throw new RxrlError('parallel: step() called while another step is running; await it first');
    this.busy = true;
    try {
      const t0 = performance.now();
      const shards = shardRows(batch, this.slots.length);
      const computed = await Promise.all(
        this.slots.map((s, i) => this.call(s, { op: 'compute', shard: shards[i]! })),
      );
      const t1 = performance.now();
      const reduced = await this.all({ op: 'reduce' });
      const t2 = performance.now();
      let gradNorm: number;
      let last: Done[];
      if (this.master) {
        const { model, optimizer } = this.master;
        gradNorm = applySummedGradient(
          this.layout.slots,
          this.regions.sum,
          optimizer,
          this.options.max_grad_norm,
        );
        writeToFlat(this.layout.slots, model.trainableVariables(), this.regions.weights);
        last = await this.all({ op: 'load', which: 'all' });
      } else if (
        this.options.sync === 'sharded_optimizer' ||
        this.options.sync === 'sharded_flat'
      ) {
        // the norm from the workers' float64 partial sums of squares; the clip factor as clip_grad_norm_
        gradNorm = Math.sqrt(reduced.reduce((a, r) => a + r.sumSq!, 0));
        const max = this.options.max_grad_norm;
        const coef = max === null ? 1 : Math.min(1, max / (gradNorm + 1e-6));
        if (this.options.sync === 'sharded_flat') {
          await this.all({ op: 'apply_flat', coef });
          last = await this.all({ op: 'load', which: 'all' });
        } else {
          await this.all({ op: 'apply_shard', coef });
          last = await this.all({ op: 'load', which: 'others' });
        }
      } else {
        last = await this.all({ op: 'apply' });
        gradNorm = last[0]!.gradNorm!;
      }
      const t3 = performance.now();
      let loss = 0;
      for (const c of computed) loss += c.loss!;
      return {
        loss,
        gradNorm,
        timing: { compute_ms: t1 - t0, reduce_ms: t2 - t1, update_ms: t3 - t2, total_ms: t3 - t0 },
        workerTensors: last.map((d) => d.numTensors),
      };
    } finally {
      this.busy = false;
    }
  }

  /** Worker `index`'s replica weights in HF layout and naming (copied out). */
  async replicaWeights(index: number): Promise<Map<string, HostTensor>> {
    this.usable();
    const slot = this.slots[index];
    if (!slot) throw new RxrlError(`parallel: no worker ${index} (there are ${this.slots.length})`);
    return (await this.call(slot, { op: 'export' })).weights!;
  }

  /** The trained weights in HF layout and naming (the master copy, or worker 0's replica). */
  async exportHfWeights(): Promise<Map<string, HostTensor>> {
    this.usable();
    return this.master ? this.master.model.exportHfWeights() : this.replicaWeights(0);
  }

  /** Terminates every worker and frees the master copy. Safe to call twice. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.shutdown(new RxrlError('parallel: the trainer was disposed'));
    if (this.master) {
      this.master.optimizer.dispose();
      this.master.model.dispose();
    }
  }

  private usable(): void {
    if (this.failure) throw this.failure;
    if (this.disposed) throw new RxrlError('parallel: the trainer was disposed');
  }

  private all(body: RequestBody): Promise<Done[]> {
    return Promise.all(this.slots.map((s) => this.call(s, body)));
  }

  private call(slot: Slot, body: RequestBody): Promise<Done> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<Done>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ ...body, id } as Request);
    });
  }

  private watch(slot: Slot): void {
    const { worker, index } = slot;
    worker.on('message', (m: Reply) => {
      if (m.op === 'ready') return;
      const p = m.id === undefined ? undefined : slot.pending.get(m.id);
      if (m.op === 'error') {
        void this.fail(
          new RxrlError(
            `parallel: worker ${index} failed (step ${this.options.step_module}#${this.options.step_export}): ${m.message}`,
          ),
        );
        return;
      }
      if (!p) return;
      slot.pending.delete(m.id);
      p.resolve(m);
    });
    worker.on(
      'error',
      (e) =>
        void this.fail(
          new RxrlError(`parallel: worker ${index} crashed: ${e.message}`, { cause: e }),
        ),
    );
    worker.on('exit', (code) => {
      if (!this.disposed && !this.failure)
        void this.fail(
          new RxrlError(`parallel: worker ${index} exited unexpectedly with code ${code}`),
        );
    });
  }

  /** First failure wins: every pending request rejects with it and every worker is terminated. */
  private async fail(err: Error): Promise<void> {
    if (this.failure || this.disposed) return;
    this.failure = err;
    await this.shutdown(err);
  }

  /** Terminates every worker, then rejects what was pending, so a rejected step means no thread is left. */
  private async shutdown(err: Error): Promise<void> {
    if (this.terminated) return;
    this.terminated = true;
    DataParallelTrainer.liveWorkers -= this.slots.length;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    for (const s of this.slots) {
      for (const p of s.pending.values()) p.reject(err);
      s.pending.clear();
    }
  }
}

/** Resolves with a worker's ready message; rejects naming the worker if it fails to start. */
function waitReady(
  worker: Worker,
  index: number,
  o: DataParallelOptions,
): Promise<Extract<Reply, { op: 'ready' }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: Reply) => {
      if (m.op !== 'ready') return;
      cleanup();
      resolve(m);
    };
    const onError = (e: Error) => {
      cleanup();
      reject(
        new RxrlError(
          `parallel: worker ${index} could not start (step ${o.step_module}#${o.step_export}): ${e.message}`,
          { cause: e },
        ),
      );
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new RxrlError(`parallel: worker ${index} exited with code ${code} while starting`));
    };
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}
