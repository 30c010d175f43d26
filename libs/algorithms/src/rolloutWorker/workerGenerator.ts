import { Worker } from 'node:worker_threads';
import { currentBackend } from '@rxrl/core';
import type { CausalLM, HostTensor } from '@rxrl/model';
import {
  generateOptionsSchema,
  type GenerateExtras,
  type GenerateOptions,
  type GenerateOptionsInput,
  type GeneratedSample,
} from '@rxrl/rollout';
import type { GenerationReply, GenerationRequest, GenerationWorkerData } from './protocol';

const WORKER_SCRIPT = new URL('./generationWorker.mjs', import.meta.url);

/** What {@link WorkerGenerator.create} needs. */
export interface WorkerGeneratorOptions {
  /** the policy; its weights now are the worker's first version */
  model: CausalLM;
  /** directory of the tokenizer's HF files, or 'builtin' */
  tokenizerSource: string;
  /** backend of the worker (default: the main thread's) */
  backend?: string;
}

/** Counters of {@link WorkerGenerator}, for metrics. */
export interface WorkerGeneratorStats {
  /** generations served from a prefetched batch */
  hits: number;
  /** generations the trainer had to wait for from scratch */
  misses: number;
  /** prefetched batches never asked for (dropped) */
  dropped: number;
  /** weight versions between the batch's generation and the request, summed over hits */
  staleness: number;
  /** seconds the worker spent generating */
  workerSeconds: number;
}

interface Job {
  id: number;
  key: string;
  version: number;
  /** the weights of `version` (they travel with the job's dispatch) */
  snapshot: Snapshot;
  prompts: Int32Array[];
  keys: (number | string)[];
  options: GenerateOptions;
  promise: Promise<GeneratedSample[]>;
  resolve: (s: GeneratedSample[]) => void;
  reject: (e: Error) => void;
}

/**
 * Generation on a worker thread, so that on a single-threaded backend (wasm) a
 * second core samples while the first trains. The worker holds a copy of the
 * policy; {@link publish} hands it the weights after each optimizer step (a host
 * snapshot: later steps do not change it). {@link prefetch} starts a batch the
 * trainer will ask for next with the weights published so far (one step behind
 * once the trainer has moved on: one-step off-policy, as NeMo RL's async GRPO);
 * {@link generate} returns it when the request matches the prefetched prompts,
 * group keys and options (all but the seed), else generates on demand with the
 * current weights and the caller's seed — bit for bit what in-process
 * `generate` gives for the same weights.
 */
export class WorkerGenerator {
  private version = 0;
  private snapshot: Snapshot;
  private workerVersion = 0;
  private queue: Job[] = [];
  private busy: Job | null = null;
  private readonly prefetched = new Map<string, Job>();
  private template: GenerateOptions | null = null;
  private nextId = 1;
  private speculations = 0;
  private failure: Error | null = null;
  private memoryWaiters: ((n: number) => void)[] = [];
  private early: { prompts: Int32Array[]; keys: (number | string)[] }[] = [];
  /** prefetched batches that may wait at once */
  maxPrefetched = 4;
  readonly counters: WorkerGeneratorStats = {
    hits: 0,
    misses: 0,
    dropped: 0,
    staleness: 0,
    workerSeconds: 0,
  };

  private constructor(
    private readonly worker: Worker,
    private readonly layout: { name: string; size: number }[],
    snapshot: Snapshot,
  ) {
    this.snapshot = snapshot;
    worker.on('message', (m: GenerationReply) => this.onReply(m));
    worker.on('error', (e) => this.fail(new Error(`generation worker failed: ${e.message}`)));
    worker.on('exit', (code) => {
      if (code !== 0) this.fail(new Error(`generation worker exited with code ${code}`));
    });
  }

  /** Starts the worker with the policy's current weights; resolves once it is ready. */
  static async create(o: WorkerGeneratorOptions): Promise<WorkerGenerator> {
    // with an adapter the worker holds the merged model and gets it whole after each step
    const merged = o.model.adapter !== null;
    const layout = merged
      ? []
      : [...o.model.trainableVariables()].map(([name, v]) => ({ name, size: v.size }));
    const data: GenerationWorkerData = {
      backend: o.backend ?? currentBackend()?.backend ?? 'auto',
      config: o.model.config,
      weights: o.model.exportHfWeights({ mergeAdapter: merged }),
      tokenizerSource: o.tokenizerSource,
      layout,
    };
    const worker = new Worker(WORKER_SCRIPT, { workerData: data, execArgv: [] });
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: GenerationReply) => {
        if (m.type === 'ready') done(null);
        else if (m.type === 'error') done(new Error(`generation worker: ${m.message}`));
      };
      const onError = (e: Error) =>
        done(new Error(`generation worker failed to start: ${e.message}`));
      const done = (e: Error | null) => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        if (e) {
          void worker.terminate();
          reject(e);
        } else resolve();
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
    });
    return new WorkerGenerator(worker, layout, snapshotOf(o.model, layout));
  }

  /** The weights generation uses from now on: the policy's, copied to the host. */
  publish(model: CausalLM): void {
    this.snapshot = snapshotOf(model, this.layout);
    this.version++;
  }

  /** Weight versions published so far (one per {@link publish}). */
  get weightsVersion(): number {
    return this.version;
  }

  /**
   * Starts generating a batch ahead of the request for it, with the options of
   * the latest request (nothing before the first) and a seed drawn from it. At
   * most `maxPrefetched` prefetched batches wait; beyond that the oldest is
   * dropped (one never asked for, e.g. drawn with options the trainer no longer
   * uses, must not hold a place for good).
   */
  prefetch(prompts: Int32Array[], keys: (number | string)[]): void {
    if (this.failure) return;
    if (this.template === null) {
      // no options to generate with yet: started once the first request brings them
      this.early.push({ prompts, keys });
      return;
    }
    const seed = (this.template.seed * 48_271 + 1_000_033 * ++this.speculations) % 2_147_483_647;
    const job = this.job(prompts, keys, { ...this.template, seed });
    job.promise.catch(() => {}); // a dropped prefetch is nobody's error
    if (this.prefetched.has(job.key)) return; // the same batch is already on its way
    this.prefetched.set(job.key, job);
    this.queue.push(job);
    while (this.prefetched.size > this.maxPrefetched) {
      // Map order is insertion order: the first entry is the oldest
      const oldest = this.prefetched.values().next().value!;
      this.prefetched.delete(oldest.key);
      const queued = this.queue.indexOf(oldest);
      // one running or done simply goes unused; one still queued never runs
      if (queued >= 0) {
        this.queue.splice(queued, 1);
        oldest.reject(new Error('dropped'));
      }
      this.counters.dropped++;
    }
    this.dispatch();
  }

  /** `generate` (of @rxrl/rollout) on the worker: a matching prefetched batch, else a fresh one. */
  async generate(
    prompts: readonly ArrayLike<number>[],
    options: GenerateOptionsInput,
    extras: GenerateExtras = {},
  ): Promise<GeneratedSample[]> {
    if (this.failure) throw this.failure;
    const opts = generateOptionsSchema.parse(options);
    this.template = opts;
    const p = prompts.map((x) => Int32Array.from(x));
    const keys = extras.requestKeys
      ? Array.from(extras.requestKeys)
      : Array.from({ length: p.length }, (_, i) => i);
    const key = cacheKey(p, keys, opts);
    const ahead = this.prefetched.get(key);
    if (ahead) {
      this.prefetched.delete(key);
      this.counters.hits++;
      this.counters.staleness += this.version - ahead.version;
      return ahead.promise;
    }
    this.counters.misses++;
    const job = this.job(p, keys, opts);
    this.queue.unshift(job); // the trainer is waiting for it: ahead of any prefetch
    const early = this.early.filter((e) => cacheKey(e.prompts, e.keys, opts) !== key);
    this.early = [];
    for (const e of early) this.prefetch(e.prompts, e.keys);
    this.dispatch();
    return job.promise;
  }

  /** Live tensors in the worker (after the requests already sent). */
  workerTensors(): Promise<number> {
    return new Promise((resolve) => {
      this.memoryWaiters.push(resolve);
      this.post({ type: 'memory' });
    });
  }

  /** Stops the worker; pending requests are rejected. */
  async dispose(): Promise<void> {
    this.fail(new Error('generation worker disposed'));
    await this.worker.terminate();
  }

  private job(prompts: Int32Array[], keys: (number | string)[], options: GenerateOptions): Job {
    let resolve!: Job['resolve'];
    let reject!: Job['reject'];
    const promise = new Promise<GeneratedSample[]>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return {
      id: this.nextId++,
      key: cacheKey(prompts, keys, options),
      version: this.version,
      prompts,
      keys,
      options,
      promise,
      resolve,
      reject,
      snapshot: this.snapshot,
    };
  }

  private dispatch(): void {
    if (this.busy || this.failure) return;
    const job = this.queue.shift();
    if (!job) return;
    this.busy = job;
    if (this.workerVersion !== job.version) {
      this.post(
        job.snapshot instanceof Float32Array
          ? { type: 'weights', version: job.version, flat: job.snapshot }
          : { type: 'merged_weights', version: job.version, weights: job.snapshot },
      );
      this.workerVersion = job.version;
    }
    this.post({
      type: 'generate',
      id: job.id,
      prompts: job.prompts,
      keys: job.keys,
      options: job.options,
    });
  }

  private post(m: GenerationRequest): void {
    this.worker.postMessage(m);
  }

  private onReply(m: GenerationReply): void {
    if (m.type === 'memory') {
      this.memoryWaiters.shift()?.(m.numTensors);
      return;
    }
    if (m.type === 'ready') return;
    const job = this.busy;
    if (!job || (m.id !== null && m.id !== job.id)) {
      if (m.type === 'error') this.fail(new Error(`generation worker: ${m.message}`));
      return;
    }
    this.busy = null;
    if (m.type === 'samples') {
      this.counters.workerSeconds += m.seconds;
      job.resolve(m.samples);
    } else job.reject(new Error(`generation worker: ${m.message}`));
    this.dispatch();
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    const pending = [...(this.busy ? [this.busy] : []), ...this.queue];
    this.busy = null;
    this.queue = [];
    this.prefetched.clear();
    for (const j of pending) j.reject(e);
  }
}

/** Host weights: flat trainable variables, or (with an adapter) the merged HF weights. */
type Snapshot = Float32Array | Map<string, HostTensor>;

function snapshotOf(model: CausalLM, layout: { name: string; size: number }[]): Snapshot {
  return model.adapter !== null
    ? model.exportHfWeights({ mergeAdapter: true })
    : flatWeights(model, layout);
}

/** The trainable variables back to back in `layout` order, on the host. */
function flatWeights(model: CausalLM, layout: { name: string; size: number }[]): Float32Array {
  const vars = model.trainableVariables();
  const out = new Float32Array(layout.reduce((s, l) => s + l.size, 0));
  let offset = 0;
  for (const slot of layout) {
    out.set(vars.get(slot.name)!.dataSync() as Float32Array, offset);
    offset += slot.size;
  }
  return out;
}

/** What makes two requests the same batch: prompts, group keys, options but the seed. */
function cacheKey(prompts: Int32Array[], keys: (number | string)[], o: GenerateOptions): string {
  const { seed: _seed, ...rest } = o;
  return `${JSON.stringify(rest)}#${keys.join(',')}#${prompts.map((p) => p.join(' ')).join('|')}`;
}
