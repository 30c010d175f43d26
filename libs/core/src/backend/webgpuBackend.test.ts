import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Rng } from '../base/rng';
import { lmHeadTokenLogProbs } from '../ops/lmHeadLogProbs';
import '../ops/kernelGradients';
import { selectBackend } from './selectBackend';
import { probeWebgpu, probeWebgpuIsolated } from './webgpuBackend';

// Runs in the default suite: without the optional packages or an adapter it
// only checks the one-line reason (a fraction of a second); with an adapter —
// a GPU, or lavapipe from tools/gpu/setup-lavapipe.sh — it checks the webgpu
// backend against the cpu backend on the same inputs.

const status = await probeWebgpu();
const available = status.available;

/** Runs `f` on `backend` with `inputs` copied there, returning its outputs as arrays. */
async function on(
  backend: 'cpu' | 'webgpu',
  inputs: Array<{ values: Float32Array | Int32Array; shape: number[] }>,
  f: (...ts: tf.Tensor[]) => tf.Tensor[],
): Promise<Array<Float32Array | Int32Array | Uint8Array>> {
  await selectBackend(backend);
  const ts = inputs.map((i) => tf.tensor(i.values, i.shape));
  const outs = f(...ts);
  const values = outs.map((o) => o.dataSync() as Float32Array | Int32Array | Uint8Array);
  tf.dispose([...ts, ...outs]);
  return values;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function normal(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  new Rng(seed).fillNormal(out, 0, 1);
  return out;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

describe('webgpu backend', () => {
  it.skipIf(available)(
    'without an adapter, --backend webgpu fails with one line saying why',
    async () => {
      expect(status.reason).not.toContain('\n');
      expect(status.reason).toMatch(/not installed|failed to load|no WebGPU adapter/);
      const err = await selectBackend('webgpu').then(
        () => null,
        (e: Error) => e,
      );
      expect(err?.name).toBe('RxrlConfigError');
      expect(err?.message).toBe(
        `backend 'webgpu' was requested (--backend) but cannot run: ${status.reason}`,
      );
    },
  );

  it("auto's probe in a child process finds what the in-process probe finds", () => {
    const isolated = probeWebgpuIsolated();
    expect(isolated.available).toBe(available);
    if (isolated.available && status.available) expect(isolated.adapter).toEqual(status.adapter);
    else expect(isolated.reason).toBe(status.reason);
  });

  it.runIf(available)('--backend webgpu runs on the adapter it names', async () => {
    const choice = await selectBackend('webgpu');
    expect(choice.backend).toBe('webgpu');
    expect(tf.getBackend()).toBe('webgpu');
    expect(choice.adapter).toBeDefined();
    expect(choice.reason).toMatch(/^requested by --backend: WebGPU adapter \S/);
  });

  it.runIf(available && status.adapter.software)(
    'auto never picks a CPU implementation of WebGPU, and says so',
    async () => {
      const saved = process.env['RXRL_BACKEND'];
      delete process.env['RXRL_BACKEND'];
      try {
        const choice = await selectBackend();
        expect(choice.backend).not.toBe('webgpu');
        expect(choice.reason).toMatch(
          /; no GPU through webgpu: the only adapter is .* \(.*a CPU implementation\), used only with --backend webgpu$/,
        );
      } finally {
        if (saved !== undefined) process.env['RXRL_BACKEND'] = saved;
      }
    },
  );

  it.runIf(available)(
    'synchronous reads return what the cpu backend computes (float32, int32, bool, empty)',
    async () => {
      const a = { values: normal(64 * 96, 1), shape: [64, 96] };
      const b = { values: normal(96 * 200, 2), shape: [96, 200] };
      const f = (x: tf.Tensor, w: tf.Tensor): tf.Tensor[] => {
        const y = tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D);
        return [
          y,
          tf.logSoftmax(y),
          tf.argMax(y, 1),
          tf.greater(y, 0),
          tf.slice(y, [0, 0], [0, 3]),
        ];
      };
      const gpu = await on('webgpu', [a, b], f);
      const cpu = await on('cpu', [a, b], f);
      expect(gpu.map((v) => v.constructor.name)).toEqual([
        'Float32Array',
        'Float32Array',
        'Int32Array',
        'Uint8Array',
        'Float32Array',
      ]);
      // products of 96 unit normals: |y| ~ 10, float32 sums in another order
      expect(maxAbsDiff(gpu[0]!, cpu[0]!)).toBeLessThan(2e-4);
      expect(maxAbsDiff(gpu[1]!, cpu[1]!)).toBeLessThan(2e-4);
      // argmax agrees wherever the top two logits are not within rounding
      const y = cpu[0]!;
      let disagree = 0;
      for (let r = 0; r < 64; r++) if (gpu[2]![r] !== cpu[2]![r]) disagree++;
      expect(disagree).toBeLessThanOrEqual(1);
      expect(
        Array.from(gpu[3]!).filter((v, i) => v !== cpu[3]![i] && Math.abs(y[i]!) > 1e-4),
      ).toEqual([]);
      expect(gpu[4]!.length).toBe(0);
    },
  );

  it.runIf(available)(
    'grad of logSoftmax(matMul) matches the cpu backend to 1e-5 relative',
    async () => {
      const a = { values: normal(32 * 64, 3), shape: [32, 64] };
      const b = { values: normal(64 * 128, 4), shape: [64, 128] };
      const weights = { values: normal(32 * 128, 5), shape: [32, 128] };
      const f = (x: tf.Tensor, w: tf.Tensor, c: tf.Tensor): tf.Tensor[] => {
        const loss = (xx: tf.Tensor, ww: tf.Tensor) =>
          tf.sum(tf.mul(tf.logSoftmax(tf.matMul(xx as tf.Tensor2D, ww as tf.Tensor2D)), c));
        return tf.grads(loss)([x, w]);
      };
      const gpu = await on('webgpu', [a, b, weights], f);
      const cpu = await on('cpu', [a, b, weights], f);
      // relative to the largest gradient entry: float32 sums over 64 and 128 terms
      const dx = maxAbsDiff(gpu[0]!, cpu[0]!) / maxAbs(cpu[0]!);
      const dw = maxAbsDiff(gpu[1]!, cpu[1]!) / maxAbs(cpu[1]!);
      console.log(
        `webgpu vs cpu, grad logSoftmax(matMul): max |Δ| / max |g| dX ${dx.toExponential(2)}, dW ${dw.toExponential(2)}`,
      );
      expect(dx).toBeLessThan(1e-5);
      expect(dw).toBeLessThan(1e-5);
    },
  );

  it.runIf(available)(
    'the ops layer: lmHeadTokenLogProbs and its gradient match the cpu backend',
    async () => {
      const [n, d, v] = [24, 32, 300];
      const h = { values: normal(n * d, 6), shape: [n, d] };
      const head = { values: normal(d * v, 7).map((x) => x * 0.2), shape: [d, v] };
      const targets = {
        values: Int32Array.from({ length: n }, (_, i) => (i * 37) % v),
        shape: [n],
      };
      const f = (hh: tf.Tensor, ww: tf.Tensor, t: tf.Tensor): tf.Tensor[] => {
        const lp = (x: tf.Tensor, w: tf.Tensor) =>
          lmHeadTokenLogProbs(x as tf.Tensor2D, w as tf.Tensor2D, t as tf.Tensor1D, {
            chunkRows: 10,
          });
        const value = lp(hh, ww);
        const [dh, dw] = tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(lp(x, w)))([hh, ww]);
        return [value, dh!, dw!];
      };
      const gpu = await on('webgpu', [h, head, targets], f);
      const cpu = await on('cpu', [h, head, targets], f);
      const diffs = [0, 1, 2].map((i) => maxAbsDiff(gpu[i]!, cpu[i]!));
      console.log(
        `webgpu vs cpu, lmHeadTokenLogProbs: max |Δ| value ${diffs[0]!.toExponential(2)}, dH ${diffs[1]!.toExponential(2)}, dHead ${diffs[2]!.toExponential(2)}`,
      );
      for (const diff of diffs) expect(diff).toBeLessThan(1e-4);
    },
  );

  it.runIf(available)('argMax and argMin reduce a 1-D tensor to a scalar, as on cpu', async () => {
    await selectBackend('webgpu');
    const x = tf.tensor1d([-1.5, 4, 0.25, -7]);
    const m = tf.tensor2d([1, 9, 3, 8, 2, 0], [2, 3]);
    const outs = [tf.argMax(x), tf.argMin(x), tf.argMax(m, 1), tf.argMin(m, 0)];
    expect(outs.map((o) => o.shape)).toEqual([[], [], [2], [3]]);
    expect(outs.map((o) => Array.from(o.dataSync()))).toEqual([[1], [3], [1, 0], [0, 1, 1]]);
    // the shape is what later ops see: a scalar adds to a scalar
    expect(tf.add(tf.argMax(x), tf.scalar(1, 'int32')).shape).toEqual([]);
    tf.dispose([x, m, ...outs]);
  });

  it.runIf(available)(
    'addN of more tensors than a shader may bind (22, as a gradient norm over a model) sums them all',
    async () => {
      await selectBackend('webgpu');
      const parts = Array.from({ length: 22 }, (_, i) => tf.fill([3, 5], i + 1));
      const before = tf.memory();
      const sum = tf.addN(parts);
      // Σ_{i=1..22} i = 253 in every entry
      expect(Array.from(sum.dataSync())).toEqual(new Array(15).fill(253));
      sum.dispose();
      // the partial sums are released, not leaked
      expect(tf.memory().numTensors).toBe(before.numTensors);
      expect(tf.memory().numDataBuffers).toBe(before.numDataBuffers);
      tf.dispose(parts);
    },
  );

  it.runIf(available)(
    'work the GPU rejects makes the next read throw instead of returning stale values',
    async () => {
      await selectBackend('webgpu');
      const device = (tf.backend() as unknown as { device: { createBuffer(d: object): unknown } })
        .device;
      // a buffer with no usage is invalid: Dawn reports it as an uncaptured validation error
      device.createBuffer({ size: 16, usage: 0 });
      const x = tf.add(tf.ones([4]), 1);
      expect(() => x.dataSync()).toThrow(
        /^webgpu: the GPU rejected queued work, so its results are not valid: /,
      );
      // reported once: the next read is clean
      const y = tf.add(tf.ones([4]), 2);
      expect(Array.from(await y.data())).toEqual([3, 3, 3, 3]);
      device.createBuffer({ size: 16, usage: 0 });
      const z = tf.add(tf.ones([4]), 3);
      await expect(z.data()).rejects.toThrow(/the GPU rejected queued work/);
      tf.dispose([x, y, z]);
    },
  );

  it.runIf(available)('100 synchronous reads leave numTensors flat', async () => {
    await selectBackend('webgpu');
    const x = tf.randomNormal([128, 128], 0, 1, 'float32', 8);
    const before = tf.memory().numTensors;
    let total = 0;
    for (let i = 0; i < 100; i++) {
      const s = tf.tidy(() => tf.sum(tf.mul(x, i)));
      total += s.dataSync()[0]!;
      s.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    const base = (await tf.sum(x).data())[0]!;
    // Σ_i i·Σx = 4950·Σx
    expect(Math.abs(total - 4950 * base)).toBeLessThan(1e-3 * Math.max(1, Math.abs(4950 * base)));
    x.dispose();
  });
});
