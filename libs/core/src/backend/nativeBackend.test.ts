import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../base/rng';
import { logSumExpLastAxis } from '../ops/logSoftmax';
import { nativeTestBackendAvailable, useBackend } from '../testing';
import { nativeBackendCalls, registerNativeBackend } from './nativeBackend';
import { NATIVE_BACKEND } from './nativeNames';

// Every kernel the native backend replaces, against the cpu backend's own
// JavaScript kernel on the same inputs: broadcasts of every kind, strided
// slices, splits, transposes of float32 and int32, softmax rows with -inf.

function randn(rng: Rng, shape: number[]): Float32Array {
  const out = new Float32Array(shape.reduce((p, d) => p * d, 1));
  for (let i = 0; i < out.length; i++) out[i] = rng.normal();
  return out;
}

/** Run `fn` on cpu and on native with the same host inputs; returns both results' data and shapes. */
async function both(fn: () => tf.Tensor | tf.Tensor[]): Promise<{
  cpu: { data: number[]; shape: number[] }[];
  native: { data: number[]; shape: number[] }[];
}> {
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    const out = tf.tidy(fn);
    const list = Array.isArray(out) ? out : [out];
    const res = list.map((t) => ({ data: Array.from(t.dataSync()), shape: t.shape }));
    tf.dispose(list);
    return res;
  };
  const cpu = await run('cpu');
  const native = await run(NATIVE_BACKEND);
  return { cpu, native };
}

function expectClose(r: Awaited<ReturnType<typeof both>>, tol: number): void {
  expect(r.native.length).toBe(r.cpu.length);
  r.cpu.forEach((c, i) => {
    const n = r.native[i]!;
    expect(n.shape).toEqual(c.shape);
    expect(n.data.length).toBe(c.data.length);
    for (let j = 0; j < c.data.length; j++) {
      const a = c.data[j]!;
      const b = n.data[j]!;
      if (Number.isNaN(a) || !Number.isFinite(a)) expect(b).toBe(a);
      else expect(Math.abs(a - b)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(a)));
    }
  });
}

describe.runIf(nativeTestBackendAvailable())('native backend kernels against cpu', () => {
  const rng = new Rng(5);
  beforeAll(async () => {
    await useBackend('cpu');
    const status = await registerNativeBackend();
    expect(status.available).toBe(true);
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  const binaryShapes: [number[], number[]][] = [
    [
      [4, 6],
      [4, 6],
    ],
    [[4, 6], [6]],
    [
      [4, 6],
      [4, 1],
    ],
    [
      [2, 3, 4],
      [3, 1],
    ],
    [
      [1, 3, 1],
      [2, 1, 5],
    ],
    [[], [3, 2]],
    [[5], []],
    [
      [2, 1, 3, 1, 2],
      [1, 4, 1, 5, 1],
    ],
  ];
  for (const op of ['add', 'sub', 'mul', 'div'] as const) {
    it.each(binaryShapes)(`${op} broadcasts %j with %j exactly as cpu`, async (sa, sb) => {
      const a = randn(rng, sa);
      const b = randn(rng, sb).map((v) => (op === 'div' ? v + Math.sign(v) * 0.5 : v));
      const before = nativeBackendCalls();
      const r = await both(() => tf[op](tf.tensor(a, sa), tf.tensor(b, sb)));
      expect(nativeBackendCalls()).toBeGreaterThan(before);
      expectClose(r, 0); // one float32 operation per element: bit-identical
    });
  }

  it('int32 arithmetic falls back to the cpu kernel (exact integer results)', async () => {
    const r = await both(() =>
      tf.add(tf.tensor([1, 2, 3], [3], 'int32'), tf.tensor([2 ** 30, -5, 7], [3], 'int32')),
    );
    expect(r.native[0]!.data).toEqual([2 ** 30 + 1, -3, 10]);
    expectClose(r, 0);
  });

  it.each([
    [
      [4, 5, 6],
      [1, 2, 0],
      [2, 3, 6],
    ],
    [
      [4, 5, 6],
      [0, 0, 1],
      [4, 5, 3],
    ],
    [
      [3, 8],
      [0, 2],
      [3, 4],
    ],
    [
      [2, 3, 4, 5],
      [1, 0, 2, 1],
      [1, 3, 2, 3],
    ],
  ])('strided slice of %j at %j size %j equals cpu', async (shape, begin, size) => {
    const x = randn(rng, shape);
    expectClose(await both(() => tf.slice(tf.tensor(x, shape), begin, size)), 0);
    const xi = Int32Array.from(x, (v) => Math.round(v * 100));
    expectClose(await both(() => tf.slice(tf.tensor(xi, shape, 'int32'), begin, size)), 0);
  });

  it.each([
    [[4, 6], 2, 1],
    [[4, 6, 8], [2, 5, 1], 2],
    [[6, 3], [1, -1, 2], 0],
  ])('split of %j into %j along %i equals cpu', async (shape, splits, axis) => {
    const x = randn(rng, shape);
    const r = await both(() => tf.split(tf.tensor(x, shape), splits as number | number[], axis));
    expect(r.native.length).toBe(Array.isArray(splits) ? splits.length : splits);
    expectClose(r, 0);
  });

  it.each([
    [
      [3, 4],
      [1, 0],
    ],
    [
      [2, 3, 4, 5],
      [0, 2, 1, 3],
    ],
    [
      [2, 3, 4],
      [2, 0, 1],
    ],
    [[5], [0]],
  ])('transpose of %j by %j equals cpu (float32 and int32)', async (shape, perm) => {
    const x = randn(rng, shape);
    expectClose(await both(() => tf.transpose(tf.tensor(x, shape), perm)), 0);
    const xi = Int32Array.from(x, (v) => Math.round(v * 100));
    expectClose(await both(() => tf.transpose(tf.tensor(xi, shape, 'int32'), perm)), 0);
  });

  it.each([
    'exp',
    'neg',
    'sigmoid',
    'log',
    'sqrt',
    'rsqrt',
    'square',
    'abs',
    'tanh',
    'reciprocal',
  ] as const)('%s matches cpu to 1e-6 relative, including 0, ±inf and NaN', async (fn) => {
    const base = randn(rng, [5, 9]).map((v) => v * 4);
    const x = Float32Array.from([...base, 0, -0, Infinity, -Infinity, NaN, 90, -90, 1e-30]);
    const positive = ['log', 'sqrt', 'rsqrt'].includes(fn);
    const input = positive ? x.map((v) => Math.abs(v)) : x;
    const before = nativeBackendCalls();
    const r = await both(() => tf[fn](tf.tensor(input)));
    expect(nativeBackendCalls()).toBe(before + 1);
    expectClose(r, 1e-6);
  });

  it.each([
    [[4, 6], [1]],
    [[4, 6], [0]],
    [
      [2, 3, 4],
      [0, 2],
    ],
    [[2, 3, 4], [1]],
    [[2, 3, 4], null],
    [[7], [0]],
  ])('sum, mean, max and min of %j over %j match cpu (keepDims both ways)', async (shape, axes) => {
    const x = randn(rng, shape);
    for (const keepDims of [false, true]) {
      for (const fn of ['sum', 'mean', 'max', 'min'] as const) {
        const r = await both(() => tf[fn](tf.tensor(x, shape), axes ?? undefined, keepDims));
        expectClose(r, 1e-6);
      }
    }
    // NaN propagates through max, as on cpu
    const withNan = Float32Array.from(x);
    withNan[0] = NaN;
    expectClose(await both(() => tf.max(tf.tensor(withNan, shape), axes ?? undefined)), 0);
  });

  it('concat along each axis equals cpu (float32 and int32, with an empty part)', async () => {
    const a = randn(rng, [2, 3, 4]);
    const b = randn(rng, [2, 3, 4]);
    for (const axis of [0, 1, 2]) {
      const bShape = [2, 3, 4];
      bShape[axis] = 1;
      const bPart = b.subarray(
        0,
        bShape.reduce((p, d) => p * d, 1),
      );
      const r = await both(() =>
        tf.concat(
          [
            tf.tensor(a, [2, 3, 4]),
            tf.tensor(bPart, bShape),
            tf.zeros([0, 3, 4].map((d, i) => (i === axis ? 0 : [2, 3, 4][i]!))),
          ],
          axis,
        ),
      );
      expectClose(r, 0);
    }
    const ri = await both(() =>
      tf.concat(
        [tf.tensor([[1, 2]], [1, 2], 'int32'), tf.tensor([[3], [4]].flat(), [1, 2], 'int32')],
        0,
      ),
    );
    expect(ri.native[0]!.data).toEqual([1, 2, 3, 4]);
  });

  it('gather along each axis equals cpu exactly (float32 and int32, rank-2 indices, repeats, slices of 1), and rejects an index out of range', async () => {
    const x = randn(rng, [5, 4, 3]);
    const idx = [
      [4, 0, 4],
      [1, 1, 2],
    ];
    for (const axis of [0, 1, 2]) {
      const pick = idx.map((row) => row.map((i) => i % [5, 4, 3][axis]!));
      const r = await both(() =>
        tf.gather(tf.tensor(x, [5, 4, 3]), tf.tensor2d(pick, [2, 3], 'int32'), axis),
      );
      expect(r.native[0]!.shape).toEqual(r.cpu[0]!.shape);
      expect(r.native).toEqual(r.cpu);
    }
    // an embedding lookup: rows of a [V, D] table by token id
    const table = randn(rng, [50, 8]);
    const ids = [3, 49, 0, 3, 17];
    const emb = await both(() => tf.gather(tf.tensor(table, [50, 8]), tf.tensor1d(ids, 'int32')));
    expect(emb.native[0]!.data.slice(8, 16)).toEqual(Array.from(table.subarray(49 * 8, 50 * 8)));
    expect(emb.native).toEqual(emb.cpu);
    const ints = await both(() =>
      tf.gather(tf.tensor1d([10, 20, 30, 40], 'int32'), tf.tensor1d([3, 0, 3], 'int32')),
    );
    expect(ints.native[0]!.data).toEqual([40, 10, 40]);
    await tf.setBackend(NATIVE_BACKEND);
    expect(() =>
      tf.tidy(() => tf.gather(tf.tensor(table, [50, 8]), tf.tensor1d([2, 50], 'int32'))),
    ).toThrow('GatherV2: the index value 50 is not in [0, 49]');
  });

  it('softmax and log-sum-exp over rows match cpu, with -inf entries and large logits', async () => {
    const shape = [5, 300];
    const x = randn(rng, shape).map((v) => v * 30);
    x[7] = -Infinity;
    x[300 + 4] = 1e4;
    for (let j = 600; j < 900; j++) x[j] = -Infinity; // a fully masked row
    // native sums exp in float64, cpu in float32: 1e-5 relative covers cpu's rounding
    expectClose(await both(() => tf.softmax(tf.tensor(x, shape))), 1e-5);
    const lse = await both(() => logSumExpLastAxis(tf.tensor(x, shape)));
    expect(lse.native[0]!.shape).toEqual([5, 1]);
    // a fully masked row: log Σ exp(-inf) = log 0 = -inf (as torch.logsumexp);
    // the JavaScript path computes -inf − (-inf) and gives NaN there
    expect(lse.native[0]!.data[2]).toBe(-Infinity);
    expect(lse.cpu[0]!.data[2]).toBeNaN();
    lse.cpu[0]!.data[2] = -Infinity;
    expectClose(lse, 1e-5);
  });

  it('topk of every k equals cpu exactly: values descending, ties by lower index', async () => {
    // rows with repeated values (ties), -inf and a large vocabulary-like row
    const rows = [
      Float32Array.from([3, 1, 3, 2, 3, -Infinity, 1, 2]),
      Float32Array.from([-1, -1, -1, -1, -1, -1, -1, -1]),
      Float32Array.from({ length: 8 }, (_, i) => i % 3),
    ];
    for (const k of [1, 2, 3, 5, 8]) {
      const r = await both(() => {
        const { values, indices } = tf.topk(
          tf.tensor2d([...rows.flatMap((x) => [...x])], [3, 8]),
          k,
        );
        return [values, indices];
      });
      expect(r.native).toEqual(r.cpu);
    }
    const wide = randn(rng, [4, 5000]);
    for (let i = 0; i < wide.length; i += 7) wide[i] = Math.round(wide[i]! * 2); // ties
    for (const k of [1, 40]) {
      const r = await both(() => {
        const { values, indices } = tf.topk(tf.tensor3d(wide, [2, 2, 5000]), k);
        return [values, indices];
      });
      expect(r.native).toEqual(r.cpu);
      expect(r.native[0]!.shape).toEqual([2, 2, k]);
    }
  });

  it('few-row products (the skinny kernel, M 2–16) match cpu to 1e-5 for both weight layouts and ragged sizes', async () => {
    // N not a multiple of 24 (the kernel's column tile) nor of 2, K not a multiple of 8 (its lane width)
    for (const [m, k, n] of [
      [2, 37, 53],
      [5, 64, 100],
      [8, 96, 24 * 9 + 7],
      [16, 13, 3],
      [3, 1, 200],
    ] as const) {
      const a = randn(rng, [m, k]);
      const w = randn(rng, [k, n]);
      for (const transposeB of [false, true]) {
        const r = await both(() =>
          tf.matMul(
            tf.tensor2d(a, [m, k]),
            transposeB ? tf.transpose(tf.tensor2d(w, [k, n])) : tf.tensor2d(w, [k, n]),
            false,
            transposeB,
          ),
        );
        expectClose(r, 1e-5);
      }
    }
  });

  it('log-sum-exp has the gradient softmax(x)·dy (against cpu)', async () => {
    const shape = [3, 7];
    const x = randn(rng, shape);
    const dy = randn(rng, [3, 1]);
    const r = await both(() =>
      tf.grad((t: tf.Tensor) => tf.sum(tf.mul(logSumExpLastAxis(t), tf.tensor(dy, [3, 1]))))(
        tf.tensor(x, shape),
      ),
    );
    expectClose(r, 1e-6);
  });

  it('matMul of every transpose combination and a broadcast batch matches cpu to 1e-5', async () => {
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      const aShape = [2, ...(ta ? [7, 5] : [5, 7])];
      const bShape = [1, ...(tb ? [3, 7] : [7, 3])];
      const a = randn(rng, aShape);
      const b = randn(rng, bShape);
      const r = await both(() =>
        tf.matMul(
          tf.tensor3d(a, aShape as [number, number, number]),
          tf.tensor3d(b, bShape as [number, number, number]),
          ta,
          tb,
        ),
      );
      expectClose(r, 1e-5);
    }
  });

  it('keeps numTensors flat and frees its arrays over 100 mixed steps', async () => {
    await tf.setBackend(NATIVE_BACKEND);
    const x = tf.randomNormal([16, 32]);
    const step = () =>
      tf
        .tidy(() =>
          tf.sum(tf.softmax(tf.transpose(tf.mul(tf.add(x, tf.slice(x, [0, 0], [1, 32])), 0.5)))),
        )
        .dispose();
    step();
    const before = tf.memory();
    for (let i = 0; i < 100; i++) step();
    const after = tf.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
    x.dispose();
  });
});
