// Which products and kernels lmHeadTokenLogProbs and lmHeadTokenEntropies run on each kind of
// backend, read from the kernels tf.profile records. The routing exists for speed: plain wasm
// (XNNPACK) is fast only for non-transposed products, so there the [V, D] head is transposed once
// per pass and every product is a plain one; elsewhere the transposed products are used as they
// are; native runs the whole op as one kernel each way (lmHeadNative.ts), and without those
// kernels forms each chunk's logits gradient in one fused kernel. A wrong route gives the same
// values, only slower, so the route is the behaviour under test here, with the values checked
// against the unchunked ops (linear + tokenLogProbs, softmax entropy) on the same backend.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../base/rng';
import { disableNativeMatmul, enableNativeMatmulFromEnv } from '../backend/nativeMatmul';
import { LM_HEAD_GRAD_KERNEL, LM_HEAD_KERNEL, LOGITS_GRAD_KERNEL } from '../backend/nativeNames';
import { nativeTestBackendAvailable, useBackend } from '../testing';
import { customOp } from './customOp';
import { randn, relErr } from './gradCheck.testkit';
import { linear } from './linear';
import { lmHeadTokenEntropies } from './lmHeadEntropies';
import { lmHeadTokenLogProbs } from './lmHeadLogProbs';
import { withoutNativeLmHeadAsync } from './lmHeadNative.testkit';
import { directMatMulIsFast } from './matMulRouting';
import { tokenLogProbs } from './tokenLogProbs';

// no two of N, D, V and the chunk sizes (5 and 3) are equal, so a transposed product cannot
// pass for a plain one by its shapes
const [n, d, v, chunkRows, temperature] = [23, 8, 37, 5, 0.7];
const rng = new Rng(21);
const hData = Float32Array.from(randn(rng, n * d, 1.5));
const wData = Float32Array.from(randn(rng, d * v, 1));
const rData = Float32Array.from(randn(rng, n));
const tData = Int32Array.from({ length: n }, () => rng.int(v));

type Op = 'logProbs' | 'entropies';
type HeadOp = (h: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor1D;

/** The op under test, and the same function from unchunked ops with the head as [D, V]. */
function ops(
  op: Op,
  vocabMajor: boolean,
  t: tf.Tensor1D,
  rows: number,
): { chunked: HeadOp; plain: HeadOp } {
  const logits = (h: tf.Tensor2D, w: tf.Tensor2D) =>
    tf.mul(linear(h, vocabMajor ? (tf.transpose(w) as tf.Tensor2D) : w), 1 / temperature);
  const options = { chunkRows: rows, temperature, vocabMajor };
  if (op === 'logProbs')
    return {
      chunked: (h, w) => lmHeadTokenLogProbs(h, w, t, options),
      plain: (h, w) => tokenLogProbs(logits(h, w) as tf.Tensor2D, t),
    };
  return {
    chunked: (h, w) => lmHeadTokenEntropies(h, w, options),
    plain: (h, w) => {
      const logp = tf.logSoftmax(logits(h, w));
      return tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), -1)) as tf.Tensor1D;
    },
  };
}

interface Run {
  value: Float32Array;
  dh: Float32Array;
  dw: Float32Array;
  kernels: Array<{ name: string; inputShapes: number[][] }>;
}

/** Value of `f(h, w)`, and the gradients of `Σ r·f(h, w)` with one forward and one backward pass under tf.profile. */
async function profiled(f: HeadOp, vocabMajor: boolean): Promise<Run> {
  const h = tf.tensor2d(hData, [n, d]);
  const wDV = tf.tensor2d(wData, [d, v]);
  const w = vocabMajor ? (tf.transpose(wDV) as tf.Tensor2D) : wDV;
  const r = tf.tensor1d(rData);
  const value = tf.tidy(() => f(h, w));
  const info = await tf.profile(() =>
    tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(f(a as tf.Tensor2D, b as tf.Tensor2D), r)),
    )([h, w]),
  );
  const [dh, dw] = info.result as tf.Tensor[];
  const out = {
    value: value!.dataSync() as Float32Array,
    dh: dh!.dataSync() as Float32Array,
    dw: dw!.dataSync() as Float32Array,
    kernels: info.kernels,
  };
  tf.dispose([h, wDV, w, r, value!, dh!, dw!]);
  return out;
}

/**
 * Runs the op and its unchunked reference; expects the same values and gradients (the
 * entropy's gradient −p·(log p + H) rounds differently from autograd's: 1e-4).
 */
async function checked(op: Op, vocabMajor: boolean, rows = chunkRows): Promise<Run> {
  const t = tf.tensor1d(tData, 'int32');
  const { chunked, plain } = ops(op, vocabMajor, t, rows);
  const got = await profiled(chunked, vocabMajor);
  const want = await profiled(plain, vocabMajor);
  t.dispose();
  const tol = op === 'logProbs' ? 1e-5 : 1e-4;
  expect(relErr(got.value, want.value)).toBeLessThan(1e-5);
  expect(relErr(got.dh, want.dh)).toBeLessThan(tol);
  expect(relErr(got.dw, want.dw)).toBeLessThan(tol);
  return got;
}

/** The products (`BatchMatMul` kernels) whose inner sizes do not meet: transposed ones. */
function transposedProducts(run: Run): number[][][] {
  return run.kernels
    .filter((k) => k.name === 'BatchMatMul')
    .map((k) => k.inputShapes)
    .filter(([a, b]) => a![a!.length - 1] !== b![b!.length - 2]);
}

const count = (run: Run, name: string) => run.kernels.filter((k) => k.name === name).length;
const cases = (['logProbs', 'entropies'] as const).flatMap((op) =>
  [false, true].map((vocabMajor) => [op, vocabMajor] as const),
);

describe('lm head routing on plain wasm (XNNPACK, no native kernel)', () => {
  beforeAll(async () => {
    await useBackend('wasm');
    disableNativeMatmul();
  });
  afterAll(() => {
    enableNativeMatmulFromEnv();
  });

  it('transposed products are not fast here', () => {
    expect(directMatMulIsFast()).toBe(false);
  });

  for (const [op, vocabMajor] of cases) {
    it(`${op} (vocabMajor ${vocabMajor}): only plain products, the head transposed once per pass`, async () => {
      const run = await checked(op, vocabMajor);
      expect(count(run, 'BatchMatMul')).toBeGreaterThan(0);
      expect(transposedProducts(run)).toEqual([]);
      // the head as [D, V] for the forward's logits and the backward's (vocabMajor), or as
      // [V, D] for the backward's g·Wᵀ; each chunk's aᵀ·b for the head gradient transposes its
      // [rows, D] or [rows, V] operand (5 chunks)
      const headTransposes = run.kernels.filter(
        (k) =>
          k.name === 'Transpose' &&
          k.inputShapes[0]!.join() === (vocabMajor ? [v, d] : [d, v]).join(),
      ).length;
      expect(headTransposes).toBe(vocabMajor ? 2 : 1);
    });
  }
});

/**
 * Bytes alive, above those before the call, when the backward pass of `Σ op(h, w)` reaches
 * the op's input `h`, i.e. right after the op's own backward returned (an identity op on `h`
 * reads tf.memory() in its gradient). The rest of a model's backward runs from there on.
 */
function bytesAfterBackward(op: Op, vocabMajor: boolean, N: number, D: number, V: number) {
  const r = new Rng(4);
  const h = tf.tensor2d(Float32Array.from(randn(r, N * D)), [N, D]);
  const w = tf.tensor2d(Float32Array.from(randn(r, D * V, 0.3)), vocabMajor ? [V, D] : [D, V]);
  const t = tf.tensor1d(
    Int32Array.from({ length: N }, () => r.int(V)),
    'int32',
  );
  const options = { chunkRows: 4, vocabMajor };
  let atInput = Number.NaN;
  const probe = customOp(([x]) => ({
    value: tf.clone(x!),
    gradFunc: (dy) => {
      atInput = tf.memory().numBytes;
      return [tf.clone(dy)];
    },
  }));
  const before = tf.memory().numBytes;
  const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) => {
    const x = probe(a) as tf.Tensor2D;
    const y =
      op === 'logProbs'
        ? lmHeadTokenLogProbs(x, b as tf.Tensor2D, t, options)
        : lmHeadTokenEntropies(x, b as tf.Tensor2D, options);
    return tf.sum(y);
  })([h, w]);
  tf.dispose([h, w, t, ...grads]);
  return atInput - before;
}

describe('lm head memory on plain wasm', () => {
  // a large head against few rows, where a head-sized buffer stands out
  const [N, D, V] = [16, 8, 512];
  const onCpu = new Map<string, number>();
  beforeAll(async () => {
    await useBackend('cpu');
    for (const [op, vocabMajor] of cases)
      onCpu.set(`${op} ${vocabMajor}`, bytesAfterBackward(op, vocabMajor, N, D, V));
    await useBackend('wasm');
    disableNativeMatmul();
  });
  afterAll(() => {
    enableNativeMatmulFromEnv();
  });

  for (const [op, vocabMajor] of cases) {
    it(`${op} (vocabMajor ${vocabMajor}): the transposed head is freed before the backward returns`, () => {
      // what is alive then is what cpu (no transposed head) leaves: the head gradient among it;
      // a transposed head kept alive would add V·D floats for the rest of the model's backward
      const cpu = onCpu.get(`${op} ${vocabMajor}`)!;
      expect(cpu).toBeGreaterThan(V * D * 4);
      expect(bytesAfterBackward(op, vocabMajor, N, D, V)).toBe(cpu);
    });
  }
});

describe('lm head routing on cpu (transposed products are fast)', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  for (const [op, vocabMajor] of cases) {
    it(`${op} (vocabMajor ${vocabMajor}): no transpose is materialised; 4 products a chunk`, async () => {
      // a chunk is the logits forward, then the logits again, dHidden and dHead backward:
      // 5 chunks of 23 rows, and one when the chunk holds the whole batch
      for (const rows of [chunkRows, n]) {
        const run = await checked(op, vocabMajor, rows);
        expect(count(run, 'Transpose')).toBe(0);
        expect(transposedProducts(run).length).toBeGreaterThan(0);
        expect(count(run, 'BatchMatMul')).toBe(4 * Math.ceil(n / rows));
      }
    });
  }
});

describe.runIf(nativeTestBackendAvailable())('lm head routing on native', () => {
  beforeAll(async () => {
    await useBackend('native');
  });

  for (const vocabMajor of [false, true]) {
    it(`logProbs (vocabMajor ${vocabMajor}): the fused LM-head kernels, one each way, no product of its own`, async () => {
      const run = await checked('logProbs', vocabMajor);
      expect(count(run, LM_HEAD_KERNEL)).toBe(1); // the forward under tf.grads
      expect(count(run, LM_HEAD_GRAD_KERNEL)).toBe(1);
      expect(count(run, 'BatchMatMul')).toBe(0);
      expect(count(run, LOGITS_GRAD_KERNEL)).toBe(0);
    });
    it(`logProbs (vocabMajor ${vocabMajor}), without the LM-head kernels: one fused logits-gradient kernel per chunk`, async () => {
      const run = await withoutNativeLmHeadAsync(() => checked('logProbs', vocabMajor));
      expect(count(run, LOGITS_GRAD_KERNEL)).toBe(Math.ceil(n / chunkRows));
      // and none of the op-by-op gradient's one-hot
      expect(count(run, 'OneHot')).toBe(0);
    });
  }
});
