// Which products matMulRouting forms on each kind of backend, read from the
// kernels tf.profile records: the routing exists for speed (plain wasm's
// transposed and batched products fall to a scalar loop), so the path is the
// behaviour under test; the values are checked against a direct tf.matMul.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../base/rng';
import { useBackend } from '../testing';
import { disableNativeMatmul, enableNativeMatmulFromEnv } from '../backend/nativeMatmul';
import { batchMatMulT, directMatMulIsFast, matMulT } from './matMulRouting';

const rng = new Rng(7);
const rand = (shape: number[]) =>
  tf.tensor(
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()),
    shape,
  );

/** Kernels `f` runs, in order, and how far its result is from `want`. */
async function route(f: () => tf.Tensor, want: tf.Tensor): Promise<[string[], number]> {
  const p = await tf.profile(f);
  const got = p.result as tf.Tensor;
  const err = tf.tidy(() => tf.max(tf.abs(tf.sub(got, want))).dataSync()[0]!);
  tf.dispose([got, want]);
  return [p.kernels.map((k) => k.name), err];
}

describe('matMul routing on plain wasm (XNNPACK, no native kernel)', () => {
  beforeAll(async () => {
    await useBackend('wasm');
    disableNativeMatmul();
  });
  afterAll(() => {
    enableNativeMatmulFromEnv();
  });

  it('transposed and batched products are not fast here', () => {
    expect(directMatMulIsFast()).toBe(false);
  });

  it('matMulT materialises each transpose and forms one plain product', async () => {
    const a = rand([4, 6]);
    const b = rand([5, 6]);
    const c = rand([4, 5]);
    const [k1, e1] = await route(
      () => matMulT(a as tf.Tensor2D, b as tf.Tensor2D, false, true),
      tf.matMul(a, b, false, true),
    );
    expect(k1).toEqual(['Transpose', 'BatchMatMul']);
    const [k2, e2] = await route(
      () => matMulT(a as tf.Tensor2D, c as tf.Tensor2D, true, false),
      tf.matMul(a, c, true, false),
    );
    expect(k2).toEqual(['Transpose', 'BatchMatMul']);
    const bt = tf.transpose(b);
    const [k3, e3] = await route(
      () => matMulT(a as tf.Tensor2D, bt as tf.Tensor2D),
      tf.matMul(a, b, false, true),
    );
    expect(k3).toEqual(['BatchMatMul']);
    expect(Math.max(e1, e2, e3)).toBeLessThan(1e-4);
    tf.dispose([a, b, c, bt]);
  });

  it('slices of 2^23 multiply-adds or more are split into plain 2-D products', async () => {
    // 256·128·256 = 2^23 exactly: the first size that is split
    const a = rand([3, 256, 128]);
    const b = rand([3, 128, 256]);
    const [k, e] = await route(
      () => batchMatMulT(a as tf.Tensor3D, b as tf.Tensor3D),
      tf.matMul(a, b),
    );
    expect(k).toEqual(['Unpack', 'Unpack', 'BatchMatMul', 'BatchMatMul', 'BatchMatMul', 'Pack']);
    expect(e).toBeLessThan(1e-3);
    tf.dispose([a, b]);
  });

  it('the transposed operand is materialised once, and its rows count in the slice size', async () => {
    // op(b) = bᵀ is [64, 256]: 512·64·256 = 2^23 (b's own last axis, 64, would make it 4× smaller)
    const a = rand([2, 512, 64]);
    const b = rand([2, 256, 64]);
    const [k, e] = await route(
      () => batchMatMulT(a as tf.Tensor3D, b as tf.Tensor3D, false, true),
      tf.matMul(a, b, false, true),
    );
    expect(k).toEqual(['Transpose', 'Unpack', 'Unpack', 'BatchMatMul', 'BatchMatMul', 'Pack']);
    expect(e).toBeLessThan(1e-3);
    // op(at) = atᵀ is [256, 128]: 256·128·256 = 2^23
    const at = rand([2, 128, 256]);
    const b2 = rand([2, 128, 256]);
    const [kA, eA] = await route(
      () => batchMatMulT(at as tf.Tensor3D, b2 as tf.Tensor3D, true, false),
      tf.matMul(at, b2, true, false),
    );
    expect(kA).toEqual(['Transpose', 'Unpack', 'Unpack', 'BatchMatMul', 'BatchMatMul', 'Pack']);
    expect(eA).toBeLessThan(1e-3);
    tf.dispose([a, b, at, b2]);
  });

  it('one large slice is one reshaped 2-D product, no unstack', async () => {
    const a = rand([1, 256, 128]);
    const b = rand([1, 128, 256]);
    const [k, e] = await route(
      () => batchMatMulT(a as tf.Tensor3D, b as tf.Tensor3D),
      tf.matMul(a, b),
    );
    expect(k).toEqual(['Reshape', 'Reshape', 'BatchMatMul', 'Reshape']);
    expect(e).toBeLessThan(1e-3);
    tf.dispose([a, b]);
  });

  it('small slices stay one batched product', async () => {
    const a = rand([4, 8, 8]);
    const b = rand([4, 8, 8]);
    const [k, e] = await route(
      () => batchMatMulT(a as tf.Tensor3D, b as tf.Tensor3D, false, true),
      tf.matMul(a, b, false, true),
    );
    expect(k).toEqual(['BatchMatMul']);
    expect(e).toBeLessThan(1e-5);
    tf.dispose([a, b]);
  });
});

describe('matMul routing on cpu', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('transposed and batched products are used as they are', async () => {
    expect(directMatMulIsFast()).toBe(true);
    // with or without the native matMul kernel (which only wasm's routing asks about)
    disableNativeMatmul();
    expect(directMatMulIsFast()).toBe(true);
    enableNativeMatmulFromEnv();
    const a = rand([3, 256, 128]);
    const b = rand([3, 256, 128]);
    const [k] = await route(
      () => batchMatMulT(a as tf.Tensor3D, b as tf.Tensor3D, false, true),
      tf.matMul(a, b, false, true),
    );
    expect(k).toEqual(['BatchMatMul']);
    const c = rand([3, 4]);
    const d = rand([5, 4]);
    const [k2, e2] = await route(
      () => matMulT(c as tf.Tensor2D, d as tf.Tensor2D, false, true),
      tf.matMul(c, d, false, true),
    );
    expect(k2).toEqual(['BatchMatMul']);
    expect(e2).toBe(0);
    tf.dispose([a, b, c, d]);
  });
});
