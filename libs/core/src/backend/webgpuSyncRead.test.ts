import { describe, expect, it } from 'vitest';
import { canPumpDawn, mapReadSync, watchDawnMethods, watchDawnScheduling } from './webgpuSyncRead';

// The synchronous map without Dawn: a fake buffer whose mapAsync schedules an
// "event pump" with setImmediate, as dawn.node does, and completes the map
// only when that pump has been called `ticks` times.

type State = 'unmapped' | 'pending' | 'mapped';

class FakeBuffer {
  mapState: State = 'unmapped';
  unmapped = 0;
  pumped = 0;
  constructor(
    readonly bytes: Float32Array,
    readonly ticks: number,
    readonly fail = false,
  ) {}
  get size(): number {
    return this.bytes.byteLength;
  }
  mapAsync(): Promise<void> {
    this.mapState = 'pending';
    return new Promise((resolve, reject) => {
      const pump = (): void => {
        if (this.mapState !== 'pending') return;
        this.pumped++;
        if (this.fail) {
          this.mapState = 'unmapped';
          reject(new Error('device lost'));
        } else if (this.pumped >= this.ticks) {
          this.mapState = 'mapped';
          resolve();
        } else setImmediate(pump);
      };
      setImmediate(pump);
    });
  }
  getMappedRange(): ArrayBuffer {
    if (this.mapState !== 'mapped') throw new Error('not mapped');
    return this.bytes.buffer as ArrayBuffer;
  }
  unmap(): void {
    this.mapState = 'unmapped';
    this.unmapped++;
  }
}

describe('mapReadSync', () => {
  it('without a captured event pump fails naming the async read', () => {
    expect(canPumpDawn()).toBe(false);
    const buffer = new FakeBuffer(new Float32Array([1]), 1);
    expect(() => mapReadSync(buffer, 1)).toThrow(/await tensor\.data\(\)/);
  });

  it('completes a map without returning to the event loop, copying the bytes and unmapping', () => {
    watchDawnScheduling();
    watchDawnMethods({ GPUBuffer: FakeBuffer });
    const buffer = new FakeBuffer(new Float32Array([1.5, -2, 3e-7]), 5);
    const bytes = mapReadSync(buffer, 1);
    expect(canPumpDawn()).toBe(true);
    expect(Array.from(new Float32Array(bytes))).toEqual([1.5, -2, Math.fround(3e-7)]);
    // a copy: the mapped range is gone after unmap
    expect(bytes).not.toBe(buffer.bytes.buffer);
    expect(buffer.pumped).toBe(5);
    expect(buffer.unmapped).toBe(1);
    expect(buffer.mapState).toBe('unmapped');
  });

  it('a map that fails throws with its reason', () => {
    const buffer = new FakeBuffer(new Float32Array([1]), 1, true);
    expect(() => mapReadSync(buffer, 1)).toThrow(
      'webgpu: a synchronous read could not map its staging buffer (device lost or buffer destroyed)',
    );
  });

  it('a map that never completes times out', () => {
    const buffer = new FakeBuffer(new Float32Array([1]), Number.POSITIVE_INFINITY);
    expect(() => mapReadSync(buffer, 1, 20)).toThrow(/waited 20 ms for the GPU/);
  });

  it('immediates scheduled outside dawn.node calls are never called early', async () => {
    let ran = 0;
    const later = new Promise<void>((resolve) =>
      setImmediate(() => {
        ran++;
        resolve();
      }),
    );
    const buffer = new FakeBuffer(new Float32Array([4]), 3);
    expect(Array.from(new Float32Array(mapReadSync(buffer, 1)))).toEqual([4]);
    expect(ran).toBe(0);
    await later;
    expect(ran).toBe(1);
  });
});
