import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { canPumpDawn, mapReadSync, watchDawnMethods, watchDawnScheduling } from './webgpuSyncRead';

/**
 * The `webgpu` backend: @tensorflow/tfjs-backend-webgpu on Dawn, the WebGPU
 * implementation the `webgpu` npm package ships prebuilt (dawn.node). Both are
 * optional dependencies installed from the npm registry alone, with no
 * download at install time; on Linux, Dawn drives the GPU through its Vulkan
 * driver (NVIDIA's, AMD's, Intel's — or Mesa's lavapipe on the CPU, which is
 * how the tests run it without a GPU: tools/gpu/setup-lavapipe.sh).
 *
 * Everything is imported lazily: a machine without the packages or without an
 * adapter gets a one-line reason, never an import error.
 */

/** The adapter Dawn picked, as WebGPU describes it. */
export interface WebgpuAdapter {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** a CPU implementation (lavapipe, SwiftShader): correct but slow; `auto` skips it */
  software: boolean;
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

export type WebgpuStatus =
  | { available: true; adapter: WebgpuAdapter; reason: string }
  | { available: false; reason: string };

/** What to install for the webgpu backend; quoted by every "unavailable" reason that needs it. */
export const WEBGPU_INSTALL_HINT =
  'install it with `npm install webgpu@0.6.2 @tensorflow/tfjs-backend-webgpu@4.22.0`';

interface DawnModule {
  create(options: string[]): DawnGpu;
  globals: Record<string, unknown>;
}
interface DawnAdapter {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string };
  isFallbackAdapter?: boolean;
  limits: { maxBufferSize: number; maxStorageBufferBindingSize: number };
}
interface DawnGpu {
  requestAdapter(options?: { powerPreference?: string }): Promise<DawnAdapter | null>;
}

let dawn: { module: DawnModule; gpu: DawnGpu } | null = null;
let probed: WebgpuStatus | null = null;
let registered: WebgpuStatus | null = null;

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
}

async function importOptional(name: string): Promise<unknown> {
  // A variable specifier keeps tsc and bundlers from resolving the optional package.
  const spec = name;
  return import(/* @vite-ignore */ spec);
}

function describeAdapter(a: DawnAdapter): WebgpuAdapter {
  const info = a.info ?? {};
  const text = `${info.architecture ?? ''} ${info.device ?? ''} ${info.description ?? ''}`;
  return {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    software:
      a.isFallbackAdapter === true ||
      info.architecture === 'software' ||
      /llvmpipe|lavapipe|swiftshader/i.test(text),
    maxBufferSize: a.limits.maxBufferSize,
    maxStorageBufferBindingSize: a.limits.maxStorageBufferBindingSize,
  };
}

/** One line naming the adapter: `NVIDIA H100 (nvidia, hopper)` or `llvmpipe: Mesa 25.0.7 (software)`. */
export function adapterLine(a: WebgpuAdapter): string {
  const name = a.description || a.device || 'unnamed adapter';
  const what = [a.vendor, a.architecture].filter(Boolean).join(', ');
  return `${name}${what ? ` (${what}${a.software ? '; a CPU implementation' : ''})` : ''}`;
}

/**
 * Load Dawn and ask it for an adapter, without touching TensorFlow.js.
 * Cached: later calls return the first answer.
 */
export async function probeWebgpu(): Promise<WebgpuStatus> {
  if (probed) return probed;
  probed = await probeOnce();
  return probed;
}

// What the isolated probe's child prints: the adapter as WebGPU describes it, or why not.
const PROBE_CHILD = `
const { create } = await import(process.argv[1]);
const adapter = await create([]).requestAdapter({ powerPreference: 'high-performance' });
const info = adapter?.info ?? {};
process.stdout.write(JSON.stringify(adapter ? {
  info: { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description },
  isFallbackAdapter: adapter.isFallbackAdapter === true,
  limits: { maxBufferSize: adapter.limits.maxBufferSize, maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize },
} : null));
process.exit(0);
`;

let probedIsolated: WebgpuStatus | null = null;

/**
 * {@link probeWebgpu} in a child process, for \`auto\`: Dawn is loaded into
 * this process only when its adapter will be used. A CPU-only machine then
 * never carries dawn.node, never prints Vulkan's warnings (lavapipe's limit
 * notes, a missing driver's loader errors) on this process's stderr, and a
 * driver that crashes on enumeration fails the probe, not the run. Costs one
 * short-lived node process (about 0.1–0.5 s).
 */
export function probeWebgpuIsolated(): WebgpuStatus {
  if (probedIsolated) return probedIsolated;
  probedIsolated = probeIsolatedOnce();
  return probedIsolated;
}

function probeIsolatedOnce(): WebgpuStatus {
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve('webgpu');
  } catch {
    return {
      available: false,
      reason: `the optional package \`webgpu\` (Dawn) is not installed; ${WEBGPU_INSTALL_HINT}`,
    };
  }
  const child = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', PROBE_CHILD, pathToFileURL(entry).href],
    { encoding: 'utf8', timeout: 30_000, env: process.env },
  );
  if (child.status !== 0) {
    const how = child.error
      ? child.error.message
      : child.signal
        ? `killed by ${child.signal}`
        : `exit ${child.status}: ${child.stderr.trim().split('\n').pop() ?? ''}`;
    return { available: false, reason: `Dawn's adapter probe failed (${how})` };
  }
  const raw = JSON.parse(child.stdout) as DawnAdapter | null;
  if (!raw) return NO_ADAPTER;
  const described = describeAdapter(raw);
  return {
    available: true,
    adapter: described,
    reason: `WebGPU adapter ${adapterLine(described)}`,
  };
}

const NO_ADAPTER: WebgpuStatus = {
  available: false,
  reason:
    'Dawn found no WebGPU adapter (no Vulkan driver for a GPU; on a machine without one, ' +
    'tools/gpu/setup-lavapipe.sh installs a CPU implementation for tests)',
};

async function probeOnce(): Promise<WebgpuStatus> {
  // dawn.node may look setImmediate up once, when loaded: watch it first
  watchDawnScheduling();
  let module: DawnModule;
  try {
    module = (await importOptional('webgpu')) as DawnModule;
  } catch (e) {
    const missing = (e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND';
    return {
      available: false,
      reason: missing
        ? `the optional package \`webgpu\` (Dawn) is not installed; ${WEBGPU_INSTALL_HINT}`
        : `Dawn (the \`webgpu\` package) failed to load on ${process.platform}-${process.arch}: ${firstLine(e)}`,
    };
  }
  watchDawnMethods(module.globals);
  let gpu: DawnGpu;
  let adapter: DawnAdapter | null;
  try {
    gpu = module.create([]);
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return { available: false, reason: `Dawn found no WebGPU adapter: ${firstLine(e)}` };
  }
  if (!adapter) return NO_ADAPTER;
  dawn = { module, gpu };
  const described = describeAdapter(adapter);
  return {
    available: true,
    adapter: described,
    reason: `WebGPU adapter ${adapterLine(described)}`,
  };
}

/** Expose Dawn as `navigator.gpu`, where tfjs-backend-webgpu looks for it. */
function installNavigatorGpu(module: DawnModule, gpu: DawnGpu): void {
  const g = globalThis as { navigator?: object };
  Object.assign(globalThis, module.globals);
  // Node 20 has no navigator; Node 21+ has one without `gpu`
  if (!g.navigator) g.navigator = {};
  Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
}

interface WebgpuTensorData {
  values: tf.backend_util.BackendValues | null;
  dtype: tf.DataType;
  shape: number[];
  resource: { size: number } | null;
  complexTensorInfos?: unknown;
}
interface WebgpuBackendInternals {
  tensorMap: { get(id: tf.DataId): WebgpuTensorData | undefined };
  bufferManager: {
    acquireBuffer(size: number, usage: number): Parameters<typeof mapReadSync>[0];
    releaseBuffer(b: unknown): void;
  };
  commandEncoder: {
    copyBufferToBuffer(s: unknown, so: number, d: unknown, o: number, n: number): void;
  };
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  readSync(id: tf.DataId): tf.backend_util.BackendValues;
  read(id: tf.DataId): Promise<tf.backend_util.BackendValues>;
  device: { addEventListener(type: 'uncapturederror', listener: (event: unknown) => void): void };
}

/**
 * Replace the backend's OffscreenCanvas read with a copy into a mappable
 * staging buffer, mapped synchronously (webgpuSyncRead.ts). Values already
 * on the CPU, complex tensors and strings keep tfjs's own path.
 */
function installSyncRead(backend: WebgpuBackendInternals, usage: Record<string, number>): void {
  const original = backend.readSync.bind(backend);
  backend.readSync = (dataId: tf.DataId) => {
    const data = backend.tensorMap.get(dataId);
    if (data && Array.isArray(data.values) && data.dtype !== 'string') {
      // empty results (a zero-size slice) are plain arrays there; cpu gives typed ones
      const typed = tf.util.getTypedArrayFromDType(data.dtype as 'float32', data.values.length);
      typed.set(data.values as unknown as number[]);
      data.values = typed;
    }
    if (!data || data.values != null || data.dtype === 'string' || data.dtype === 'complex64')
      return original(dataId);
    const size = tf.util.sizeFromShape(data.shape);
    let values: tf.backend_util.BackendValues;
    if (size === 0 || data.resource == null) {
      values = tf.util.getTypedArrayFromDType(data.dtype as 'float32', size);
    } else {
      const bytes = data.resource.size;
      const staging = backend.bufferManager.acquireBuffer(
        bytes,
        usage['COPY_DST']! | usage['MAP_READ']!,
      );
      backend.ensureCommandEncoderReady();
      backend.endComputePassEncoder();
      backend.commandEncoder.copyBufferToBuffer(data.resource, 0, staging, 0, bytes);
      backend.submitQueue();
      try {
        const raw = mapReadSync(staging, usage['READ']!);
        values = tf.util.convertBackendValuesAndArrayBuffer(raw, data.dtype);
      } finally {
        backend.bufferManager.releaseBuffer(staging);
      }
    }
    data.values = values;
    return values;
  };
}

/**
 * WebGPU reports invalid work (a pipeline the device cannot bind, a buffer it
 * cannot allocate) as an `uncapturederror` event on the device and skips the
 * work, so results would silently be zeros or stale. Every read — the
 * synchronous one here and tfjs's own async one — throws the first such
 * error seen since the previous read instead of returning those values.
 */
function surfaceGpuErrors(backend: WebgpuBackendInternals): void {
  let pending: string | null = null;
  backend.device.addEventListener('uncapturederror', (event) => {
    const message = (event as { error?: { message?: string } }).error?.message;
    pending ??= (message ?? 'an unnamed error').trim().split('\n')[0]!;
  });
  const check = (): void => {
    if (pending === null) return;
    const message = pending;
    pending = null;
    throw new Error(
      `webgpu: the GPU rejected queued work, so its results are not valid: ${message}`,
    );
  };
  const readSync = backend.readSync.bind(backend);
  backend.readSync = (dataId) => {
    const values = readSync(dataId);
    check();
    return values;
  };
  const read = backend.read.bind(backend);
  backend.read = async (dataId) => {
    const values = await read(dataId);
    check();
    return values;
  };
}

/**
 * tfjs-backend-webgpu 4.22 gives argMax / argMin of a 1-D tensor the shape [1]
 * instead of a scalar (its program pads an empty output shape), which breaks
 * any later op that checks shapes (`addN`, broadcasting into [B]). The
 * re-registered kernels return the same data with the reduced shape.
 */
function fixReductionShapes(): void {
  for (const name of ['ArgMax', 'ArgMin']) {
    const original = tf.getKernel(name, 'webgpu');
    if (!original) continue;
    tf.unregisterKernel(name, 'webgpu');
    tf.registerKernel({
      ...original,
      kernelFunc: (args) => {
        const out = original.kernelFunc(args) as tf.TensorInfo;
        const x = args.inputs['x'] as tf.TensorInfo;
        const axis = (args.attrs as { axis: number | number[] }).axis;
        const axes = tf.util.parseAxisParam(axis, x.shape);
        const shape = x.shape.filter((_, i) => !axes.includes(i));
        return tf.util.arraysEqual(out.shape, shape) ? out : { ...out, shape };
      },
    });
  }
}

/**
 * tfjs-backend-webgpu 4.22 sums all of AddN's inputs in one shader with one
 * storage buffer each, so more inputs than the device's per-stage limit (8 by
 * default: 7 inputs and the output) fail validation — e.g. a gradient norm
 * over a model's 22 parameter tensors. Its Concat splits the same way; this
 * AddN sums chunks of at most that many and then the partial sums.
 */
function chunkAddN(): void {
  const original = tf.getKernel('AddN', 'webgpu');
  if (!original) return;
  tf.unregisterKernel('AddN', 'webgpu');
  tf.registerKernel({
    ...original,
    kernelFunc: (args) => {
      const backend = args.backend as unknown as {
        device: { limits: { maxStorageBuffersPerShaderStage: number } };
        disposeData(id: tf.DataId): void;
      };
      const max = Math.max(2, backend.device.limits.maxStorageBuffersPerShaderStage - 1);
      const run = (inputs: tf.TensorInfo[]) =>
        original.kernelFunc({
          ...args,
          inputs: inputs as unknown as tf.NamedTensorInfoMap,
        }) as tf.TensorInfo;
      let inputs = args.inputs as unknown as tf.TensorInfo[];
      const partials: tf.TensorInfo[] = [];
      while (inputs.length > max) {
        const next: tf.TensorInfo[] = [];
        for (let i = 0; i < inputs.length; i += max) {
          const chunk = inputs.slice(i, i + max);
          if (chunk.length === 1) next.push(chunk[0]!);
          else {
            const sum = run(chunk);
            partials.push(sum);
            next.push(sum);
          }
        }
        inputs = next;
      }
      const out = run(inputs);
      // released once the queued shaders that read them have been submitted
      for (const p of partials) backend.disposeData(p.dataId);
      return out;
    },
  });
}

/**
 * Register and initialise the `webgpu` backend (idempotent) and make it
 * current. The status says which adapter it runs on, or why it cannot run.
 */
export async function registerWebgpuBackend(): Promise<WebgpuStatus> {
  if (registered?.available) {
    if (!(await tf.setBackend('webgpu')))
      return { available: false, reason: 'the webgpu backend failed to initialise' };
    return registered;
  }
  if (registered) return registered;
  registered = await registerOnce();
  return registered;
}

async function registerOnce(): Promise<WebgpuStatus> {
  const probe = await probeWebgpu();
  if (!probe.available || !dawn) return probe;
  installNavigatorGpu(dawn.module, dawn.gpu);
  // tfjs-backend-webgpu registers its factory at import, only if navigator.gpu exists
  try {
    await import('@tensorflow/tfjs-backend-cpu');
    await importOptional('@tensorflow/tfjs-backend-webgpu');
  } catch (e) {
    const missing = (e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND';
    return {
      available: false,
      reason: missing
        ? `the optional package @tensorflow/tfjs-backend-webgpu is not installed; ${WEBGPU_INSTALL_HINT}`
        : `@tensorflow/tfjs-backend-webgpu failed to load: ${firstLine(e)}`,
    };
  }
  if (!tf.findBackendFactory('webgpu')) {
    return {
      available: false,
      reason:
        '@tensorflow/tfjs-backend-webgpu was loaded before navigator.gpu existed and registered nothing; ' +
        'select the backend through selectBackend before importing it',
    };
  }
  let ok = false;
  try {
    ok = await tf.setBackend('webgpu');
  } catch (e) {
    return { available: false, reason: `the webgpu backend failed to initialise: ${firstLine(e)}` };
  }
  if (!ok) return { available: false, reason: 'the webgpu backend failed to initialise' };
  fixReductionShapes();
  chunkAddN();
  const globals = dawn.module.globals;
  const backend = tf.backend() as unknown as WebgpuBackendInternals;
  installSyncRead(backend, {
    ...(globals['GPUBufferUsage'] as Record<string, number>),
    READ: (globals['GPUMapMode'] as Record<string, number>)['READ']!,
  });
  surfaceGpuErrors(backend);
  const sync = canPumpDawn() ? '' : '; synchronous reads unavailable (dawn.node changed)';
  return { ...probe, reason: `${probe.reason}${sync}` };
}
