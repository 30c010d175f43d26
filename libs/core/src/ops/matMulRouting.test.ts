import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../base/rng';
import { useBackend } from '../testing';
import {
  disableNativeMatmul,
  enableNativeMatmulFromEnv,
  isNativeMatmulEnabled,
} from '../backend/nativeMatmul';
import { batchMatMulT } from './matMulRouting';

/** float64 `op(a[i])·op(b[i])` from host arrays, the reference both routes must match. */
function reference(
  a: Float32Array,
  b: Float32Array,
  [n, ar, ac]: number[],
  [, br, bc]: number[],
  tA: boolean,
  tB: boolean,
): Float64Array {
  const m = tA ? ac! : ar!;
  const k = tA ? ar! : ac!;
  const p = tB ? br! : bc!;
  const out = new Float64Array(n! * m * p);
  for (let s = 0; s < n!; s++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < p; j++) {
        let acc = 0;
        for (let l = 0; l < k; l++) {
          const x = a[s * ar! * ac! + (tA ? l * ac! + i : i * ac! + l)]!;
          const y = b[s * br! * bc! + (tB ? j * bc! + l : l * bc! + j)]!;
          acc += x * y;
        }
        out[(s * m + i) * p + j] = acc;
      }
  return out;
}

describe('batchMatMulT on plain wasm (XNNPACK, no native kernel)', () => {
  beforeAll(async () => {
    await useBackend('wasm');
    // the routing under test is the one a machine without the OpenBLAS addon gets
    disableNativeMatmul();
  });
  afterAll(() => {
    enableNativeMatmulFromEnv();
  });

  // small slices take one batched product, large ones the per-slice XNNPACK split
  it.each([
    ['attention-sized slices, batched', [64, 12, 16], [64, 12, 16], false, true],
    ['attention-sized slices, transposed A', [32, 16, 12], [32, 16, 9], true, false],
    ['slices past the split threshold', [2, 256, 128], [2, 128, 256], false, false],
  ] as const)('%s: equals the float64 product', (_, sa, sb, tA, tB) => {
    expect(isNativeMatmulEnabled()).toBe(false);
    const rng = new Rng(4);
    const size = (s: readonly number[]) => s.reduce((x, y) => x * y, 1);
    const av = Float32Array.from({ length: size(sa) }, () => rng.normal());
    const bv = Float32Array.from({ length: size(sb) }, () => rng.normal());
    const a = tf.tensor3d(av, sa as [number, number, number]);
    const b = tf.tensor3d(bv, sb as [number, number, number]);
    const got = batchMatMulT(a, b, tA, tB).dataSync();
    const want = reference(av, bv, [...sa], [...sb], tA, tB);
    let worst = 0;
    want.forEach((w, i) => (worst = Math.max(worst, Math.abs(w - got[i]!))));
    expect(worst).toBeLessThan(1e-3);
    tf.dispose([a, b]);
  });
});
