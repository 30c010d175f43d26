import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type * as tf from '@tensorflow/tfjs-core';

/**
 * Float32Arrays of the `native` backend's kernel outputs, handed back when their tensor
 * is disposed and reused for the next output of the same length.
 *
 * Why: every TensorFlow.js kernel output is a fresh array, freed only when V8's garbage
 * collector reaches it. At real size that is ~10 GB of fresh pages a training step (the
 * kernel zeroing them: 13% of the CPU time), and the arrays' external memory starts a
 * major GC every few tens of MB (another 12%). A recycled array needs neither.
 *
 * Safety: an array is reused only when nothing can still see it. It is never reused once
 * its contents have left the backend — `readSync`/`read` (`dataSync`, `data`, `array`,
 * `bufferSync` hand out the array itself, not a copy) — or once a second tensor was
 * registered on the same memory (a contiguous slice is a `subarray` view of its input);
 * only when the one tensor that owns it is disposed (backend refCount 0) does it go back.
 * Reused arrays are not zeroed: only kernels that write every element of their output
 * take them ({@link takeOutput}).
 */

/** Arrays below this many elements are not pooled: cheap to allocate, and the bookkeeping would cost more. */
export const POOL_MIN_ELEMENTS = 1 << 16;

interface Entry {
  /** tensors registered on this memory so far (1: its owner) */
  owners: number;
  /** left the backend, or viewed by another tensor: never reused */
  escaped: boolean;
}

export class ArrayPool {
  private readonly free = new Map<number, Float32Array[]>();
  private readonly entries = new WeakMap<ArrayBufferLike, Entry>();
  private held = 0;
  /** outputs served from the pool / freshly allocated, for tests and benchmarks */
  reused = 0;
  allocated = 0;

  constructor(private readonly capBytes: number) {}

  /** A Float32Array of `n` elements to be fully overwritten: recycled when one is free. */
  take(n: number): Float32Array {
    if (n < POOL_MIN_ELEMENTS) return new Float32Array(n);
    const list = this.free.get(n);
    const got = list?.pop();
    if (got !== undefined) {
      this.held -= got.byteLength;
      this.entries.set(got.buffer, { owners: 0, escaped: false });
      this.reused++;
      return got;
    }
    const fresh = new Float32Array(n);
    this.entries.set(fresh.buffer, { owners: 0, escaped: false });
    this.allocated++;
    return fresh;
  }

  /** A tensor is being registered on `values`: a second one on pooled memory pins it. */
  registered(values: unknown): void {
    const e = this.entryOf(values);
    if (e === undefined) return;
    e.owners++;
    if (e.owners > 1 || !isWhole(values)) e.escaped = true;
  }

  /** `values` are leaving the backend (a read): never reuse them. */
  escaped(values: unknown): void {
    const e = this.entryOf(values);
    if (e !== undefined) e.escaped = true;
  }

  /** The tensor owning `values` was disposed: keep them for reuse if nothing else can see them. */
  released(values: unknown): void {
    const e = this.entryOf(values);
    if (e === undefined || e.escaped || !(values instanceof Float32Array) || !isWhole(values))
      return;
    this.entries.delete(values.buffer);
    if (this.held + values.byteLength > this.capBytes) return;
    const list = this.free.get(values.length) ?? [];
    list.push(values);
    this.free.set(values.length, list);
    this.held += values.byteLength;
  }

  /** Bytes kept for reuse now. */
  heldBytes(): number {
    return this.held;
  }

  /** Drops every kept array (they go to the garbage collector). */
  clear(): void {
    this.free.clear();
    this.held = 0;
  }

  private entryOf(values: unknown): Entry | undefined {
    if (!ArrayBuffer.isView(values)) return undefined;
    return this.entries.get(values.buffer);
  }
}

/** Whether a typed array spans its whole buffer (a pooled array does; a view of one does not). */
function isWhole(values: unknown): boolean {
  return (
    ArrayBuffer.isView(values) &&
    values.byteOffset === 0 &&
    values.byteLength === values.buffer.byteLength
  );
}

/**
 * The cpu backend class with an {@link ArrayPool} wired into the places where arrays
 * enter it (write, move), leave it (readSync, and read through it) and are freed
 * (disposeData).
 */
export function poolingBackendClass(
  Base: typeof MathBackendCPU,
  capBytes: number,
): new () => MathBackendCPU & { pool: ArrayPool } {
  return class PoolingBackend extends Base {
    readonly pool = new ArrayPool(capBytes);

    override write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType) {
      this.pool.registered(values);
      return super.write(values, shape, dtype);
    }

    override move(
      dataId: tf.DataId,
      values: tf.backend_util.BackendValues,
      shape: number[],
      dtype: tf.DataType,
      refCount: number,
    ): void {
      this.pool.registered(values);
      super.move(dataId, values, shape, dtype, refCount);
    }

    override readSync(dataId: tf.DataId): tf.backend_util.BackendValues {
      const v = super.readSync(dataId);
      this.pool.escaped(this.data.get(dataId)?.values);
      return v;
    }

    override disposeData(dataId: tf.DataId, force?: boolean): boolean {
      const values = this.data.get(dataId)?.values;
      const freed = super.disposeData(dataId, force);
      if (freed && values !== undefined && !this.data.has(dataId)) this.pool.released(values);
      return freed;
    }

    override dispose(): void {
      this.pool.clear();
      super.dispose();
    }
  };
}

/** An output array for a kernel that writes every element: from the backend's pool when it has one. */
export function takeOutput(backend: MathBackendCPU, n: number): Float32Array {
  const pool = (backend as unknown as { pool?: ArrayPool }).pool;
  return pool !== undefined ? pool.take(n) : new Float32Array(n);
}
