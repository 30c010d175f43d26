import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@rxrl/core/base';
import {
  NATIVE_BACKEND,
  SAMPLE_ROWS_KERNEL,
  nativeTestBackendAvailable,
  useBackend,
} from '@rxrl/core';
import { inverseCdfOnDevice, sampleOnDevice } from './sampleOnDevice';
import { policyLogprob, sampleToken } from './sampleToken';
import type { SamplingParams } from './samplingParams';

// token:        0     1    2    3     4
const PROBS = [0.05, 0.4, 0.1, 0.25, 0.2];
const base: SamplingParams = { temperature: 1, top_k: null, top_p: 1, min_p: 0 };

function softmax(logits: ArrayLike<number>, t: number): number[] {
  const z = Array.from(logits, (l) => l / t);
  const m = Math.max(...z);
  const e = z.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/** Pearson chi-square of counts over `support` against probabilities proportional to `weights`. */
function chiSquare(counts: number[], weights: number[], n: number): number {
  const total = weights.reduce((a, b) => a + b, 0);
  return counts.reduce((s, c, i) => {
    const e = (n * weights[i]!) / total;
    return s + (c - e) ** 2 / e;
  }, 0);
}

/** Counts of `n` device draws from `rows` copies of one row of logits. */
async function deviceCounts(logits: Float32Array, p: SamplingParams, n: number, seed: number) {
  const v = logits.length;
  const rows = 2000;
  const counts = new Array<number>(v).fill(0);
  const rng = new Rng(seed);
  const t = tf.tensor2d(
    Float32Array.from({ length: rows * v }, (_, i) => logits[i % v]!),
    [rows, v],
  );
  for (let done = 0; done < n; done += rows) {
    const drawn = await sampleOnDevice(
      t,
      p,
      Array.from({ length: rows }, (_, j) => rng.fork(`${done}/${j}`)),
    );
    for (const d of drawn) counts[d!.token]!++;
  }
  t.dispose();
  return counts;
}

describe('sampleOnDevice', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });
  const LOGITS = Float32Array.from(PROBS, (p) => Math.log(p) + 3);

  it('plain temperature: softmax(logits / T) frequencies by inverse CDF (chi-square, 4 dof)', async () => {
    for (const temperature of [1, 0.6]) {
      const n = 20000;
      const counts = await deviceCounts(LOGITS, { ...base, temperature }, n, 3);
      // 18.47 is the 0.999 quantile of chi-square with 4 degrees of freedom
      expect(chiSquare(counts, softmax(LOGITS, temperature), n)).toBeLessThan(18.47);
      expect(chiSquare(counts, softmax(LOGITS, temperature * 1.5), n)).toBeGreaterThan(18.47);
    }
  });

  it('top-p keeps the smallest most-likely set reaching p on a hand-built distribution (chi-square)', async () => {
    const n = 20000;
    // 0.4 < 0.6 <= 0.65: tokens 1 and 3
    let counts = await deviceCounts(LOGITS, { ...base, top_p: 0.6 }, n, 4);
    expect(counts.map((c, i) => (c > 0 ? i : -1)).filter((i) => i >= 0)).toEqual([1, 3]);
    // 10.83 is the 0.999 quantile with 1 degree of freedom
    expect(chiSquare([counts[1]!, counts[3]!], [0.4, 0.25], n)).toBeLessThan(10.83);
    // 0.65 < 0.7 <= 0.85: tokens 1, 3 and 4
    counts = await deviceCounts(LOGITS, { ...base, top_p: 0.7 }, n, 5);
    expect(counts.map((c, i) => (c > 0 ? i : -1)).filter((i) => i >= 0)).toEqual([1, 3, 4]);
    expect(chiSquare([counts[1]!, counts[3]!, counts[4]!], [0.4, 0.25, 0.2], n)).toBeLessThan(
      13.82,
    );
    // min_p 0.3 (cut 0.12) drops tokens 0 and 2, also on the inverse-CDF path
    counts = await deviceCounts(LOGITS, { ...base, min_p: 0.3 }, 4000, 6);
    expect(counts[0]).toBe(0);
    expect(counts[2]).toBe(0);
  });

  it('reproduces the host draws of the same seeded rngs, log-probs included', async () => {
    const rng = new Rng(8);
    for (const [v, scale, cases] of [
      // peaked rows: inverse CDF agrees with the host's float64 scan
      [300, 2, [base, { ...base, temperature: 0.7, min_p: 0.02 }]],
      // flat rows of 5000: the nucleus is thousands of tokens wide, so the candidates widen to the whole row
      [
        5000,
        0.3,
        [
          { ...base, top_p: 0.9 },
          { ...base, temperature: 1.4, top_p: 0.5, min_p: 0.1 },
          { ...base, top_k: 300, top_p: 0.8 },
        ],
      ],
    ] as const) {
      const b = 12;
      const data = new Float32Array(b * v);
      rng.fillNormal(data, 0, scale);
      const t = tf.tensor2d(data, [b, v]);
      for (const p of cases) {
        const before = tf.memory().numTensors;
        const dev = Array.from({ length: b }, (_, j) => (j === 5 ? null : new Rng(100 + j)));
        const host = Array.from({ length: b }, (_, j) => new Rng(100 + j));
        const drawn = await sampleOnDevice(t, p, dev);
        expect(tf.memory().numTensors).toBe(before);
        for (let j = 0; j < b; j++) {
          const row = data.subarray(j * v, (j + 1) * v);
          if (j === 5) {
            expect(drawn[j]).toBeNull();
            continue;
          }
          const want = sampleToken(row, p, host[j]!);
          expect(drawn[j]!.token).toBe(want.token);
          expect(drawn[j]!.logprob).toBeCloseTo(policyLogprob(row, want.token, p.temperature), 4);
          // one rng.float() per row, as on the host
          expect(dev[j]!.float()).toBe(host[j]!.float());
        }
      }
      t.dispose();
    }
  });

  it('greedy is the arg-max with its T = 1 log-prob', async () => {
    const t = tf.tensor2d([Array.from(LOGITS), [0, 0, 9, 0, 0]]);
    const drawn = await sampleOnDevice(t, { ...base, temperature: 0 }, [new Rng(1), new Rng(2)]);
    expect(drawn.map((d) => d!.token)).toEqual([1, 2]);
    expect(drawn[0]!.logprob).toBeCloseTo(Math.log(0.4), 5);
    t.dispose();
  });
});

describe.runIf(nativeTestBackendAvailable())('inverse-CDF sampling as one native kernel', () => {
  beforeAll(async () => {
    await useBackend('native');
  });

  /** inverseCdfOnDevice with the native kernel unregistered: the op-by-op path. */
  async function opByOp(
    logits: tf.Tensor2D,
    params: SamplingParams,
    u: Float32Array,
  ): Promise<{ tokens: Int32Array; logprobs: Float32Array }> {
    const k = tf.getKernel(SAMPLE_ROWS_KERNEL, NATIVE_BACKEND)!;
    tf.unregisterKernel(SAMPLE_ROWS_KERNEL, NATIVE_BACKEND);
    try {
      return await inverseCdfOnDevice(logits, params, u);
    } finally {
      tf.registerKernel(k);
    }
  }

  it("draws the op-by-op path's tokens and log-probs (temperatures 1 and 0.7, min-p 0 and 0.05, uniforms at both ends)", async () => {
    const rng = new Rng(17);
    const [b, v] = [7, 5003];
    const data = Float32Array.from({ length: b * v }, () => 6 * rng.normal());
    data[3 * v + 11] = 40; // one row nearly all on one token
    const logits = tf.tensor2d(data, [b, v]);
    const before = tf.memory().numTensors;
    let draws = 0;
    for (const temperature of [1, 0.7])
      for (const min_p of [0, 0.05])
        for (let round = 0; round < 6; round++) {
          const u = Float32Array.from({ length: b }, (_, j) =>
            round === 0 ? 0 : round === 1 ? 1 - 2 ** -20 : rng.float() * (j % 2 ? 1 : 1e-3),
          );
          const params = { ...base, temperature, min_p };
          const fused = await inverseCdfOnDevice(logits, params, u);
          const ref = await opByOp(logits, params, u);
          expect(Array.from(fused.tokens)).toEqual(Array.from(ref.tokens));
          expect(Array.from(fused.logprobs)).toEqual(Array.from(ref.logprobs));
          draws += b;
        }
    expect(draws).toBe(2 * 2 * 6 * 7);
    expect(tf.memory().numTensors).toBe(before);
    logits.dispose();
  });

  it('runs as the one kernel and matches the host distribution', async () => {
    const logits = tf.tensor2d(Array.from({ length: 4 }, () => PROBS.map(Math.log)).flat(), [4, 5]);
    const info = await tf.profile(async () => {
      await inverseCdfOnDevice(logits, base, Float32Array.of(0.01, 0.3, 0.6, 0.99));
    });
    expect(info.kernels.map((k) => k.name)).toEqual([SAMPLE_ROWS_KERNEL]);
    // CDF of PROBS: 0.05, 0.45, 0.55, 0.8, 1 → u 0.01 → 0, 0.3 → 1, 0.6 → 3, 0.99 → 4
    const got = await inverseCdfOnDevice(logits, base, Float32Array.of(0.01, 0.3, 0.6, 0.99));
    expect(Array.from(got.tokens)).toEqual([0, 1, 3, 4]);
    got.logprobs.forEach((lp, j) => expect(lp).toBeCloseTo(Math.log(PROBS[[0, 1, 3, 4][j]!]!), 5));
    logits.dispose();
  });
});
