import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RxrlConfigError } from '../base/errors';
import { Rng } from '../base/rng';
import { linear } from '../ops/linear';
import { useBackend } from '../testing';
import {
  NATIVE_MATMUL_ADDON_PATH,
  broadcastBatchIndex,
  disableNativeMatmul,
  enableNativeMatmul,
  enableNativeMatmulFromEnv,
  isNativeMatmulEnabled,
  nativeMatmulAddon,
  nativeMatmulCalls,
} from './nativeMatmul';

const BUILD_HINT = 'apt-get install libopenblas-dev && npm run build:native -w @rxrl/core';
const built = existsSync(NATIVE_MATMUL_ADDON_PATH);

function randn(rng: Rng, shape: number[]): Float32Array {
  const out = new Float32Array(shape.reduce((p, d) => p * d, 1));
  for (let i = 0; i < out.length; i++) out[i] = rng.normal();
  return out;
}

/** float64 reference for tf.matMul (leading dims broadcast, optional transposes). */
function refMatMul(
  a: Float32Array,
  aShape: number[],
  b: Float32Array,
  bShape: number[],
  tA: boolean,
  tB: boolean,
): { data: Float64Array; shape: number[] } {
  const ar = aShape.length;
  const br = bShape.length;
  const [M, K] = tA ? [aShape[ar - 1]!, aShape[ar - 2]!] : [aShape[ar - 2]!, aShape[ar - 1]!];
  const N = tB ? bShape[br - 2]! : bShape[br - 1]!;
  const { outer, aIndex, bIndex } = broadcastBatchIndex(aShape.slice(0, -2), bShape.slice(0, -2));
  const out = new Float64Array(aIndex.length * M * N);
  for (let p = 0; p < aIndex.length; p++) {
    const ao = aIndex[p]! * M * K;
    const bo = bIndex[p]! * K * N;
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = tA ? a[ao + k * M + i]! : a[ao + i * K + k]!;
          const bv = tB ? b[bo + j * K + k]! : b[bo + k * N + j]!;
          s += av * bv;
        }
        out[p * M * N + i * N + j] = s;
      }
  }
  return { data: out, shape: [...outer, M, N] };
}

/** max |x - y| / max |y|: relative error at the scale of the result. */
function relErr(x: ArrayLike<number>, y: ArrayLike<number>): number {
  expect(x.length).toBe(y.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < x.length; i++) {
    num = Math.max(num, Math.abs(x[i]! - y[i]!));
    den = Math.max(den, Math.abs(y[i]!));
  }
  return num / den;
}

describe('broadcastBatchIndex (pure, runs with or without the addon)', () => {
  it('maps each output batch position to its a and b blocks under broadcasting', () => {
    const r = broadcastBatchIndex([2, 1], [1, 3]);
    expect(r.outer).toEqual([2, 3]);
    expect(Array.from(r.aIndex)).toEqual([0, 0, 0, 1, 1, 1]);
    expect(Array.from(r.bIndex)).toEqual([0, 1, 2, 0, 1, 2]);
    const s = broadcastBatchIndex([4], []);
    expect(Array.from(s.aIndex)).toEqual([0, 1, 2, 3]);
    expect(Array.from(s.bIndex)).toEqual([0, 0, 0, 0]);
    expect(() => broadcastBatchIndex([2], [3])).toThrow(/broadcast/i);
  });
});

describe('enableNativeMatmul with a missing addon (runs everywhere)', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });
  it('reports enabled: false with the build hint and leaves the wasm kernel in place', () => {
    const before = tf.getKernel('BatchMatMul', 'wasm');
    const status = enableNativeMatmul({ addonPath: '/nonexistent/rxrl_native.node' });
    expect(status.enabled).toBe(false);
    expect(status.reason).toContain(BUILD_HINT);
    expect(status.reason).toContain('/nonexistent/rxrl_native.node');
    expect(tf.getKernel('BatchMatMul', 'wasm')).toBe(before);
  });
});

if (!built) {
  describe('native matMul: addon NOT built on this machine (disabled branch)', () => {
    beforeAll(async () => {
      await useBackend('wasm');
    });
    it('enableNativeMatmul reports enabled: false and says how to build the addon', () => {
      const status = enableNativeMatmul();
      expect(status.enabled).toBe(false);
      expect(status.reason).toContain(BUILD_HINT);
      expect(isNativeMatmulEnabled()).toBe(false);
      const y = tf.matMul(tf.tensor2d([1, 2], [1, 2]), tf.tensor2d([3, 4], [2, 1]));
      expect(Array.from(y.dataSync())).toEqual([11]);
      y.dispose();
    });
  });
} else {
  describe('native matMul: addon built (enabled branch, OpenBLAS sgemm)', () => {
    const CASES: { name: string; a: number[]; b: number[]; tA: boolean; tB: boolean }[] = [
      { name: 'plain 2-D', a: [33, 65], b: [65, 17], tA: false, tB: false },
      { name: 'transposeA', a: [65, 33], b: [65, 17], tA: true, tB: false },
      { name: 'transposeB', a: [33, 65], b: [17, 65], tA: false, tB: true },
      { name: 'transposeA and transposeB', a: [65, 33], b: [17, 65], tA: true, tB: true },
      { name: 'M = 1 (decode row, sgemv)', a: [1, 65], b: [65, 17], tA: false, tB: false },
      { name: 'M = 1, transposeA and transposeB', a: [65, 1], b: [17, 65], tA: true, tB: true },
      { name: 'N = 1 (column, sgemv)', a: [33, 65], b: [65, 1], tA: false, tB: false },
      { name: 'N = 1, transposeA and transposeB', a: [65, 33], b: [1, 65], tA: true, tB: true },
      { name: 'batched [3,...] x [3,...]', a: [3, 9, 20], b: [3, 20, 11], tA: false, tB: false },
      {
        name: 'batched, transposeB (attention scores)',
        a: [2, 3, 9, 8],
        b: [2, 3, 10, 8],
        tA: false,
        tB: true,
      },
      {
        name: 'broadcast batch [1,...] x [4,...]',
        a: [1, 9, 20],
        b: [4, 20, 11],
        tA: false,
        tB: false,
      },
      { name: 'broadcast batch [4,...] x 2-D', a: [4, 9, 20], b: [20, 11], tA: false, tB: false },
    ];
    const rng = new Rng(7);

    beforeAll(async () => {
      await useBackend('wasm');
      const status = enableNativeMatmul();
      expect(status).toEqual({ enabled: true, reason: expect.stringContaining('OpenBLAS') });
    });
    afterAll(() => {
      disableNativeMatmul();
    });

    for (const c of CASES) {
      it(`${c.name}: native equals the wasm kernel and a float64 reference within 1e-5`, () => {
        const aData = randn(rng, c.a);
        const bData = randn(rng, c.b);
        const run = () =>
          tf.tidy(() => tf.matMul(tf.tensor(aData, c.a), tf.tensor(bData, c.b), c.tA, c.tB));
        const calls = nativeMatmulCalls();
        const nat = run();
        expect(nativeMatmulCalls()).toBe(calls + 1);
        disableNativeMatmul();
        const wasm = run();
        expect(nativeMatmulCalls()).toBe(calls + 1);
        expect(enableNativeMatmul().enabled).toBe(true);
        const ref = refMatMul(aData, c.a, bData, c.b, c.tA, c.tB);
        expect(nat.shape).toEqual(ref.shape);
        expect(wasm.shape).toEqual(ref.shape);
        expect(relErr(nat.dataSync(), wasm.dataSync())).toBeLessThan(1e-5);
        expect(relErr(nat.dataSync(), ref.data)).toBeLessThan(1e-5);
        tf.dispose([nat, wasm]);
      });
    }

    it('two-sided broadcast [2,1,...] x [1,3,...] matches the float64 reference (6 products)', () => {
      const aShape = [2, 1, 5, 7];
      const bShape = [1, 3, 7, 4];
      const aData = randn(rng, aShape);
      const bData = randn(rng, bShape);
      const y = tf.tidy(() => tf.matMul(tf.tensor(aData, aShape), tf.tensor(bData, bShape)));
      const ref = refMatMul(aData, aShape, bData, bShape, false, false);
      expect(y.shape).toEqual([2, 3, 5, 4]);
      expect(relErr(y.dataSync(), ref.data)).toBeLessThan(1e-5);
      y.dispose();
    });

    it('degenerate sizes: K = 0 gives zeros, M = 0 gives an empty result', () => {
      const z = tf.matMul(tf.zeros([3, 0]), tf.zeros([0, 2]));
      expect(Array.from(z.dataSync())).toEqual([0, 0, 0, 0, 0, 0]);
      const e = tf.matMul(tf.zeros([0, 4]), tf.ones([4, 2]));
      expect(e.shape).toEqual([0, 2]);
      tf.dispose([z, e]);
    });

    // loss(x, w, b) = Σ c ⊙ tanh(x·w + b), differentiated by tf and by central
    // differences in float64 plain JS.
    const X: [number, number] = [4, 6];
    const W: [number, number] = [6, 5];
    const xData = randn(new Rng(1), X);
    const wData = randn(new Rng(2), W);
    const bData = randn(new Rng(3), [5]);
    const cData = randn(new Rng(4), [4, 5]);
    function loss64(x: Float64Array, w: Float64Array, b: Float64Array): number {
      let s = 0;
      for (let i = 0; i < 4; i++)
        for (let j = 0; j < 5; j++) {
          let z = b[j]!;
          for (let k = 0; k < 6; k++) z += x[i * 6 + k]! * w[k * 5 + j]!;
          s += cData[i * 5 + j]! * Math.tanh(z);
        }
      return s;
    }
    function finiteDiff(which: 0 | 1 | 2): Float64Array {
      const args = [
        Float64Array.from(xData),
        Float64Array.from(wData),
        Float64Array.from(bData),
      ] as const;
      const target = args[which];
      const g = new Float64Array(target.length);
      const h = 1e-6;
      for (let i = 0; i < target.length; i++) {
        const v = target[i]!;
        target[i] = v + h;
        const up = loss64(...args);
        target[i] = v - h;
        const down = loss64(...args);
        target[i] = v;
        g[i] = (up - down) / (2 * h);
      }
      return g;
    }

    it('gradients of core linear() run native and match finite differences', () => {
      const c = tf.tensor2d(cData, [4, 5]);
      const f = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(c, tf.tanh(linear(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D))));
      const calls = nativeMatmulCalls();
      const grads = tf.grads(f)([tf.tensor2d(xData, X), tf.tensor2d(wData, W), tf.tensor1d(bData)]);
      // forward x·w, backward dY·Wᵀ and Xᵀ·dY
      expect(nativeMatmulCalls() - calls).toBe(3);
      for (const which of [0, 1, 2] as const) {
        expect(relErr(grads[which]!.dataSync(), finiteDiff(which))).toBeLessThan(1e-4);
      }
      tf.dispose([c, ...grads]);
    });

    it("tfjs's own (transposed) matMul gradient runs native and matches finite differences", () => {
      const c = tf.tensor2d(cData, [4, 5]);
      // w stored [out, in] and used transposed: the gradient needs transposed products.
      const wT = tf.tidy(() => tf.transpose(tf.tensor2d(wData, W)));
      const f = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
        tf.sum(
          tf.mul(c, tf.tanh(tf.add(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D, false, true), b))),
        );
      const calls = nativeMatmulCalls();
      const grads = tf.grads(f)([tf.tensor2d(xData, X), wT, tf.tensor1d(bData)]);
      expect(nativeMatmulCalls() - calls).toBe(3);
      expect(relErr(grads[0]!.dataSync(), finiteDiff(0))).toBeLessThan(1e-4);
      const gw = tf.tidy(() => tf.transpose(grads[1]!));
      expect(relErr(gw.dataSync(), finiteDiff(1))).toBeLessThan(1e-4);
      expect(relErr(grads[2]!.dataSync(), finiteDiff(2))).toBeLessThan(1e-4);
      tf.dispose([c, wT, gw, ...grads]);
    });

    it('a loop of forward+backward products keeps tensors and wasm allocations flat', () => {
      const x = tf.tensor(randn(rng, [2, 8, 16]), [2, 8, 16]);
      const w = tf.tensor(randn(rng, [16, 16]), [16, 16]);
      const step = () =>
        tf.tidy(() => {
          const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.matMul(a, b, false, true)));
          return g([x, w]);
        });
      tf.dispose(step());
      const tensors = tf.memory().numTensors;
      const dataIds = tf.engine().backend.numDataIds();
      for (let i = 0; i < 20; i++) tf.dispose(step());
      expect(tf.memory().numTensors).toBe(tensors);
      expect(tf.engine().backend.numDataIds()).toBe(dataIds);
      tf.dispose([x, w]);
    });

    it('setThreads changes the OpenBLAS thread count the addon reports', () => {
      const addon = nativeMatmulAddon()!;
      const before = addon.getThreads();
      expect(enableNativeMatmul({ threads: 1 }).reason).toContain('1 thread(s)');
      expect(addon.getThreads()).toBe(1);
      addon.setThreads(before);
    });

    it('the addon validates its arguments (lengths, types) instead of reading out of bounds', () => {
      const addon = nativeMatmulAddon()!;
      const a = new Float32Array(6);
      expect(() => addon.sgemm(2, 2, 3, a, new Float32Array(5), new Float32Array(4))).toThrow(
        /shorter/,
      );
      expect(() =>
        addon.sgemm(2, 2, 3, a, a as never as Float32Array, new Float64Array(4) as never),
      ).toThrow(/out must be a Float32Array/);
      expect(() =>
        addon.sgemm(
          2,
          2,
          3,
          a,
          a,
          new Float32Array(8),
          false,
          false,
          new Int32Array([0, 1]),
          new Int32Array([0, 0]),
        ),
      ).toThrow(/out of range/);
    });

    it('RXRL_NATIVE_MATMUL=0 restores the wasm kernel; a bad thread count is a config error', () => {
      const off = enableNativeMatmulFromEnv({ RXRL_NATIVE_MATMUL: '0' });
      expect(off).toEqual({
        enabled: false,
        reason: 'native matMul disabled by RXRL_NATIVE_MATMUL=0',
      });
      expect(isNativeMatmulEnabled()).toBe(false);
      const calls = nativeMatmulCalls();
      tf.tidy(() => tf.matMul(tf.ones([2, 2]), tf.ones([2, 2])).dataSync());
      expect(nativeMatmulCalls()).toBe(calls);
      expect(() => enableNativeMatmulFromEnv({ RXRL_NATIVE_MATMUL_THREADS: 'two' })).toThrow(
        RxrlConfigError,
      );
      expect(enableNativeMatmulFromEnv({}).enabled).toBe(true);
      expect(isNativeMatmulEnabled()).toBe(true);
    });
  });
}
