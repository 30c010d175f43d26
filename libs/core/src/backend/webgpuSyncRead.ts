/**
 * Synchronous reads (`dataSync`, `arraySync`) on the webgpu backend in Node.
 *
 * tfjs-backend-webgpu reads synchronously through an OffscreenCanvas, which
 * Node has not, so every `dataSync()` would throw; the training stack reads
 * scalars (losses, gradient norms) and the KV cache synchronously. WebGPU
 * itself only maps buffers asynchronously: `mapAsync` resolves once Dawn has
 * processed its events, which dawn.node does from a `setImmediate` callback
 * it schedules while work is in flight. That callback is a native function
 * that calls `wgpu::Instance::ProcessEvents`; calling it ourselves in a loop
 * completes the map without returning to the event loop. We capture it by
 * watching `setImmediate` while dawn.node's own async methods run, so nothing
 * else that schedules an immediate is ever called early.
 *
 * Where a future dawn.node schedules differently (no callback captured), a
 * synchronous read fails with an error that names the async alternative.
 */

/** The subset of WebGPU this file touches (typed here: `@webgpu/types` is not a dependency). */
interface MappableBuffer {
  readonly size: number;
  readonly mapState: 'unmapped' | 'pending' | 'mapped';
  mapAsync(mode: number): Promise<void>;
  getMappedRange(): ArrayBuffer;
  unmap(): void;
}

let capturing = 0;
let processEvents: (() => void) | null = null;
let watching = false;

/**
 * Wrap `setImmediate` so that callbacks scheduled while `capturing` is set are
 * remembered as Dawn's event pump. Installed once, before dawn.node loads
 * (it may look `setImmediate` up when created).
 */
export function watchDawnScheduling(): void {
  if (watching) return;
  watching = true;
  const original = globalThis.setImmediate;
  const schedule = original as unknown as (...a: unknown[]) => NodeJS.Immediate;
  const wrapped = function (this: unknown, fn: (...args: unknown[]) => void, ...args: unknown[]) {
    if (capturing > 0 && typeof fn === 'function') processEvents = fn as () => void;
    return schedule.call(this, fn, ...args);
  } as unknown as typeof setImmediate;
  // keep util.promisify(setImmediate) and friends working
  Object.assign(wrapped, original);
  globalThis.setImmediate = wrapped;
}

function whileCapturing<T>(f: () => T): T {
  capturing++;
  try {
    return f();
  } finally {
    capturing--;
  }
}

/**
 * Mark dawn.node's asynchronous methods so the immediates they schedule are
 * captured. `globals` is what `require('webgpu').globals` returns.
 */
export function watchDawnMethods(globals: Record<string, unknown>): void {
  const methods: Array<[string, string]> = [
    ['GPU', 'requestAdapter'],
    ['GPUAdapter', 'requestDevice'],
    ['GPUBuffer', 'mapAsync'],
    ['GPUQueue', 'onSubmittedWorkDone'],
    ['GPUDevice', 'createComputePipelineAsync'],
    ['GPUDevice', 'popErrorScope'],
  ];
  for (const [cls, name] of methods) {
    const proto = (globals[cls] as { prototype?: Record<string, unknown> } | undefined)?.prototype;
    const original = proto?.[name];
    if (
      !proto ||
      typeof original !== 'function' ||
      (original as { rxrlWatched?: true }).rxrlWatched
    )
      continue;
    const wrapped = function (this: unknown, ...args: unknown[]) {
      return whileCapturing(() => (original as (...a: unknown[]) => unknown).apply(this, args));
    };
    (wrapped as { rxrlWatched?: true }).rxrlWatched = true;
    proto[name] = wrapped;
  }
}

/** Whether a synchronous map can be completed here (Dawn's pump was seen). */
export function canPumpDawn(): boolean {
  return processEvents !== null;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Map `buffer` for reading and return a copy of its bytes, blocking until the
 * GPU has finished. Polls Dawn's event pump, sleeping between polls (up to
 * 1 ms) so a software adapter's worker threads keep the cores.
 */
export function mapReadSync(
  buffer: MappableBuffer,
  mapRead: number,
  timeoutMs = 600_000,
): ArrayBuffer {
  // a rejection is only seen once the map is no longer pending; the promise's
  // reason would need the microtask queue, which this loop never yields to
  buffer.mapAsync(mapRead).catch(() => undefined);
  if (!processEvents) {
    throw new Error(
      'webgpu: synchronous reads (dataSync) need dawn.node to schedule its event pump with setImmediate, ' +
        'and none was seen; read with `await tensor.data()` instead',
    );
  }
  const start = performance.now();
  let wait = 0;
  while (buffer.mapState === 'pending') {
    whileCapturing(() => processEvents!());
    if (buffer.mapState !== 'pending') break;
    if (performance.now() - start > timeoutMs)
      throw new Error(`webgpu: a synchronous read waited ${timeoutMs} ms for the GPU`);
    Atomics.wait(sleeper, 0, 0, wait);
    wait = Math.min(1, wait + 0.05);
  }
  if (buffer.mapState !== 'mapped')
    throw new Error(
      'webgpu: a synchronous read could not map its staging buffer (device lost or buffer destroyed)',
    );
  const bytes = buffer.getMappedRange().slice(0);
  buffer.unmap();
  return bytes;
}
