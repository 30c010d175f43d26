import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { Rng } from '@rxrl/core/base';
import { nativeInPlaceCalls, nativeTestBackendAvailable, useBackend } from '@rxrl/core';
import { Adam, AdamW } from './adam';
import { globalNorm } from './clipGradNorm';
import { SGD } from './sgd';

/**
 * The native backend runs Adam's step as one in-place C pass
 * (core/src/backend/nativeInPlace.ts); the cpu backend runs the op-by-op
 * version. Same float32 roundings in the same order, so same bits.
 */

type Make = (vars: Record<string, tf.Variable>) => Adam | AdamW | SGD;

function randomArrays(seed: number, sizes: number[]): Float32Array[] {
  const rng = new Rng(seed);
  return sizes.map((n) => Float32Array.from({ length: n }, () => rng.normal() * 0.5));
}

/** Runs `steps` updates with fixed gradients (scaled by `gradScale`) and returns the variables' bits. */
function run(make: Make, steps: number, gradScale: number): Float32Array[] {
  const sizes = [7 * 5, 64, 1000];
  const init = randomArrays(1, sizes);
  const vars = Object.fromEntries(
    // tidy frees the tensor each variable starts from, so the variable owns its storage alone
    init.map((v, i) => [
      `w${i}`,
      tf.tidy(() => tf.variable(tf.tensor1d(v), true, `w${i}_${Math.random()}`)),
    ]),
  );
  const opt = make(vars);
  for (let s = 0; s < steps; s++) {
    const grads = Object.fromEntries(
      randomArrays(10 + s, sizes).map((g, i) => [`w${i}`, tf.tensor1d(g)]),
    );
    opt.step(grads, { gradScale });
    tf.dispose(Object.values(grads));
  }
  const out = Object.values(vars).map((v) => v.dataSync() as Float32Array);
  opt.dispose();
  tf.dispose(Object.values(vars));
  return out;
}

const makers: [string, Make][] = [
  ['AdamW wd 0.01', (v) => new AdamW(v, { lr: 1e-3, weight_decay: 0.01 })],
  ['AdamW wd 0', (v) => new AdamW(v, { lr: 3e-4, weight_decay: 0, betas: [0.8, 0.95] })],
  ['Adam with L2', (v) => new Adam(v, { lr: 1e-2, weight_decay: 0.1, eps: 1e-6 })],
];

describe.runIf(nativeTestBackendAvailable())('Adam on the native backend (in place)', () => {
  afterEach(() => tf.engine().reset());

  for (const [label, make] of makers) {
    for (const gradScale of [1, 0.37]) {
      it(`${label}, gradScale ${gradScale}: the same bits as the op-by-op update on cpu`, async () => {
        await useBackend('cpu');
        const reference = run(make, 3, gradScale);
        await useBackend('native');
        const before = tf.memory().numTensors;
        const calls = nativeInPlaceCalls();
        const fused = run(make, 3, gradScale);
        expect(tf.memory().numTensors).toBe(before);
        expect(nativeInPlaceCalls() - calls).toBe(3 * 3); // 3 steps × 3 variables, all in place
        for (let i = 0; i < reference.length; i++) expect(fused[i]).toEqual(reference[i]);
        // and it moved: a step of size ~lr per coordinate, not zero
        expect(Math.abs(fused[2]![0]! - randomArrays(1, [35, 64, 1000])[2]![0]!)).toBeGreaterThan(
          1e-5,
        );
      });
    }
  }

  it('leaves a clone of a weight alone (shared storage takes the op-by-op path)', async () => {
    await useBackend('native');
    const w = tf.tidy(() => tf.variable(tf.tensor1d([1, 2, 3]), true, 'shared_w'));
    const snapshot = tf.clone(w); // shares w's storage
    const opt = new AdamW({ w }, { lr: 0.1, weight_decay: 0 });
    const g = tf.tensor1d([1, -1, 0.5]);
    const calls = nativeInPlaceCalls();
    opt.step({ w: g });
    expect(nativeInPlaceCalls()).toBe(calls);
    // Adam's first step moves each coordinate by lr·sign(g) (up to eps)
    expect(Array.from(w.dataSync())).toEqual(
      [0.9, 2.1, 2.9].map((x) => expect.closeTo(x, 5) as unknown as number),
    );
    expect(Array.from(snapshot.dataSync())).toEqual([1, 2, 3]);
    opt.dispose();
    tf.dispose([w, snapshot, g]);
  });

  it('globalNorm: the same float32 as sqrt(Σ sum(square(g))) op by op', async () => {
    const sizes = [3, 1000, 4097];
    const norms: number[] = [];
    for (const b of ['cpu', 'native'] as const) {
      await useBackend(b);
      const ts = randomArrays(5, sizes).map((a) => tf.tensor1d(a));
      const n = globalNorm(Object.fromEntries(ts.map((t, i) => [String(i), t])));
      norms.push(n.dataSync()[0]!);
      tf.dispose([n, ...ts]);
    }
    const exact = Math.sqrt(
      randomArrays(5, sizes)
        .flatMap((a) => Array.from(a))
        .reduce((s, x) => s + x * x, 0),
    );
    expect(norms[1]).toBe(norms[0]);
    expect(norms[1]).toBeCloseTo(exact, 3);
  });
});

describe('gradScale', () => {
  it('SGD: a step with gradScale s equals a step on s·g', async () => {
    await useBackend('cpu');
    const a = tf.variable(tf.tensor1d([1, 2]), true, 'sgd_a');
    const b = tf.variable(tf.tensor1d([1, 2]), true, 'sgd_b');
    new SGD({ a }, { lr: 0.5 }).step({ a: tf.tensor1d([2, -4]) }, { gradScale: 0.25 });
    new SGD({ b }, { lr: 0.5 }).step({ b: tf.tensor1d([0.5, -1]) });
    expect(Array.from(a.dataSync())).toEqual([0.75, 2.5]);
    expect(Array.from(b.dataSync())).toEqual([0.75, 2.5]);
  });

  it('rejects a negative or non-finite scale', async () => {
    await useBackend('cpu');
    const w = tf.variable(tf.tensor1d([1]), true, 'bad_scale');
    const opt = new SGD({ w }, { lr: 0.1 });
    expect(() => opt.step({ w: tf.tensor1d([1]) }, { gradScale: NaN })).toThrow(/gradScale/);
    expect(() => opt.step({ w: tf.tensor1d([1]) }, { gradScale: -1 })).toThrow(/gradScale/);
  });
});
