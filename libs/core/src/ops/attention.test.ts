import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, beforeAll } from 'vitest';
import { Rng } from '../base/rng';
import { TEST_BACKENDS, useBackend } from '../testing';
import { attention } from './attention';
import { dot, f32, fdGrads, maxAbsDiff, randn, relErr, tfGrads } from './gradCheck.testkit';

interface Dims {
  b: number;
  t: number;
  s: number;
  hq: number;
  hkv: number;
  dh: number;
}

/**
 * float64 GQA attention; masked keys are excluded outright. Rows with no
 * visible key are reported in `dead` (their output is left 0).
 */
function attentionRef(
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  { b, t, s, hq, hkv, dh }: Dims,
  keyMask: number[] | null,
  offset: number,
  causal: boolean,
): { out: Float64Array; dead: Set<number> } {
  const out = new Float64Array(b * t * hq * dh);
  const dead = new Set<number>();
  const rep = hq / hkv;
  for (let bi = 0; bi < b; bi++) {
    for (let ti = 0; ti < t; ti++) {
      for (let h = 0; h < hq; h++) {
        const g = Math.floor(h / rep);
        const qo = ((bi * t + ti) * hq + h) * dh;
        const sc: number[] = [];
        const keys: number[] = [];
        for (let j = 0; j < s; j++) {
          if (causal && j > offset + ti) continue;
          if (keyMask && keyMask[bi * s + j] === 0) continue;
          const ko = ((bi * s + j) * hkv + g) * dh;
          let d = 0;
          for (let c = 0; c < dh; c++) d += q[qo + c] * k[ko + c];
          sc.push(d / Math.sqrt(dh));
          keys.push(j);
        }
        if (keys.length === 0) {
          for (let c = 0; c < dh; c++) dead.add(qo + c);
          continue;
        }
        const m = Math.max(...sc);
        const e = sc.map((x) => Math.exp(x - m));
        const z = e.reduce((a, x) => a + x, 0);
        keys.forEach((j, idx) => {
          const vo = ((bi * s + j) * hkv + g) * dh;
          for (let c = 0; c < dh; c++) out[qo + c] += (e[idx] / z) * v[vo + c];
        });
      }
    }
  }
  return { out, dead };
}

function t4(a: Float64Array, shape: number[]): tf.Tensor4D {
  return tf.tensor4d(Float32Array.from(a), shape as [number, number, number, number]);
}

describe.each(TEST_BACKENDS)('attention on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('single query over two keys matches a hand computation', () => {
    // scores q·k/√2 are [0, ln 3], so p = [1/4, 3/4] and out = ¼·[4, 0] + ¾·[0, 8] = [1, 6]
    const a = Math.log(3) * Math.sqrt(2);
    const o = tf.tidy(() =>
      attention(
        tf.tensor4d([[[[1, 0]]]]),
        tf.tensor4d([[[[0, 5]], [[a, 0]]]]),
        tf.tensor4d([[[[4, 0]], [[0, 8]]]]),
        {
          causal: false,
        },
      ),
    );
    expect(maxAbsDiff(o.dataSync(), [1, 6])).toBeLessThan(1e-5);
    o.dispose();
  });

  it('GQA (Hq=4, Hkv=2) with left padding and causal mask matches float64; padded keys ignored; dead rows finite', () => {
    const rng = new Rng(31);
    const d: Dims = { b: 2, t: 4, s: 4, hq: 4, hkv: 2, dh: 4 };
    const mask = [1, 1, 1, 1, 0, 0, 1, 1];
    const q = f32(randn(rng, d.b * d.t * d.hq * d.dh));
    const k = f32(randn(rng, d.b * d.s * d.hkv * d.dh));
    const v = f32(randn(rng, d.b * d.s * d.hkv * d.dh));
    const ref = attentionRef(q, k, v, d, mask, 0, true);
    expect(ref.dead.size).toBe(2 * d.hq * d.dh); // batch 1, query rows 0 and 1 see only padding
    const km = tf.tensor2d(mask, [2, 4]);
    const o = attention(t4(q, [2, 4, 4, 4]), t4(k, [2, 4, 2, 4]), t4(v, [2, 4, 2, 4]), {
      keyMask: km,
    });
    const got = o.dataSync();
    expect(got.every(Number.isFinite)).toBe(true);
    const live = (a: ArrayLike<number>): number[] =>
      Array.from(a).filter((_, i) => !ref.dead.has(i));
    expect(maxAbsDiff(live(got), live(ref.out))).toBeLessThan(1e-5);
    // changing k/v at padded positions changes nothing for live rows
    const k2 = Float64Array.from(k);
    const v2 = Float64Array.from(v);
    for (let j = 0; j < 2; j++) {
      for (let c = 0; c < 8; c++) {
        k2[(4 + j) * 8 + c] = 100;
        v2[(4 + j) * 8 + c] = -100;
      }
    }
    const o2 = attention(t4(q, [2, 4, 4, 4]), t4(k2, [2, 4, 2, 4]), t4(v2, [2, 4, 2, 4]), {
      keyMask: km,
    });
    expect(maxAbsDiff(live(o2.dataSync()), live(got))).toBe(0);
    tf.dispose([km, o, o2]);
  });

  it('GQA equals attention with explicitly repeated k/v heads', () => {
    const rng = new Rng(32);
    const [b, t, hq, hkv, dh] = [1, 3, 4, 2, 4];
    const q = t4(f32(randn(rng, b * t * hq * dh)), [b, t, hq, dh]);
    const k = t4(f32(randn(rng, b * t * hkv * dh)), [b, t, hkv, dh]);
    const v = t4(f32(randn(rng, b * t * hkv * dh)), [b, t, hkv, dh]);
    // HF repeat_kv: query head h reads kv head ⌊h / 2⌋ -> kv order [0, 0, 1, 1]
    const rep = (x: tf.Tensor4D): tf.Tensor4D =>
      tf.gather(x, tf.tensor1d([0, 0, 1, 1], 'int32'), 2) as tf.Tensor4D;
    const [a, e] = tf.tidy(() => [attention(q, k, v), attention(q, rep(k), rep(v))]);
    expect(maxAbsDiff(a.dataSync(), e.dataSync())).toBeLessThan(1e-6);
    tf.dispose([q, k, v, a, e]);
  });

  it('packed row: segmentIds keep sequences apart, each segment equals attention over it alone', () => {
    const rng = new Rng(33);
    const [t, hq, hkv, dh] = [6, 2, 1, 4];
    // two sequences (lengths 3 and 2) packed into one row, then one pad position
    const seg = Int32Array.from([1, 1, 1, 2, 2, 0]);
    const q = t4(f32(randn(rng, t * hq * dh)), [1, t, hq, dh]);
    const k = t4(f32(randn(rng, t * hkv * dh)), [1, t, hkv, dh]);
    const v = t4(f32(randn(rng, t * hkv * dh)), [1, t, hkv, dh]);
    const packed = tf.tidy(() => attention(q, k, v, { segmentIds: seg }));
    const rows = packed.arraySync()[0]!;
    for (const [start, len] of [
      [0, 3],
      [3, 2],
    ] as const) {
      const part = (x: tf.Tensor4D) =>
        tf.slice(x, [0, start, 0, 0], [1, len, -1, -1]) as tf.Tensor4D;
      const alone = tf.tidy(() => attention(part(q), part(k), part(v)));
      expect(
        maxAbsDiff(Float32Array.from(rows.slice(start, start + len).flat(2)), alone.dataSync()),
      ).toBeLessThan(1e-6);
      alone.dispose();
    }
    expect(rows[5]!.flat().every(Number.isFinite)).toBe(true);
    expect(() => attention(q, k, v, { segmentIds: seg.subarray(0, 5) })).toThrow(
      /segmentIds needs self-attention/,
    );
    tf.dispose([q, k, v, packed]);
  });

  it('non-causal attention with a key mask over several queries matches float64', () => {
    const rng = new Rng(34);
    const dims = { b: 2, t: 3, s: 3, hq: 2, hkv: 2, dh: 4 };
    const qa = randn(rng, 2 * 3 * 2 * 4);
    const ka = randn(rng, 2 * 3 * 2 * 4);
    const va = randn(rng, 2 * 3 * 2 * 4);
    const mask = [1, 1, 1, 0, 1, 1];
    const { out } = attentionRef(qa, ka, va, dims, mask, 0, false);
    const [q, k, v] = [qa, ka, va].map((a) => t4(a, [2, 3, 2, 4]));
    const km = tf.tensor2d(mask, [2, 3]);
    const o = tf.tidy(() => attention(q!, k!, v!, { keyMask: km, causal: false }));
    expect(relErr(o.dataSync(), out)).toBeLessThan(1e-5);
    tf.dispose([q!, k!, v!, km, o]);
  });

  it('cached decode (queryOffset > 0) equals the matching rows of the full computation', () => {
    const rng = new Rng(33);
    const [b, s, h, dh] = [2, 5, 2, 4];
    const qa = f32(randn(rng, b * s * h * dh));
    const q = t4(qa, [b, s, h, dh]);
    const k = t4(f32(randn(rng, b * s * h * dh)), [b, s, h, dh]);
    const v = t4(f32(randn(rng, b * s * h * dh)), [b, s, h, dh]);
    const km = tf.tensor2d([0, 1, 1, 1, 1, 1, 1, 1, 1, 1], [2, 5]);
    const full = attention(q, k, v, { keyMask: km });
    // last two query rows against all five keys: default offset S − T = 3
    const qLast = tf.slice(q, [0, 3, 0, 0], [b, 2, h, dh]);
    const dec = attention(qLast, k, v, { keyMask: km });
    expect(
      maxAbsDiff(dec.dataSync(), tf.slice(full, [0, 3, 0, 0], [b, 2, h, dh]).dataSync()),
    ).toBeLessThan(1e-6);
    // a single query at absolute position 2 against the whole (longer) cache: explicit offset masks keys 3, 4
    const q2 = tf.slice(q, [0, 2, 0, 0], [b, 1, h, dh]);
    const one = attention(q2, k, v, { keyMask: km, queryOffset: 2 });
    expect(
      maxAbsDiff(one.dataSync(), tf.slice(full, [0, 2, 0, 0], [b, 1, h, dh]).dataSync()),
    ).toBeLessThan(1e-6);
    tf.dispose([q, k, v, km, full, qLast, dec, q2, one]);
  });

  it('gradients for q, k, v match float64 finite differences (GQA, padding, causal, offset)', () => {
    const rng = new Rng(34);
    const d: Dims = { b: 2, t: 2, s: 3, hq: 4, hkv: 2, dh: 3 };
    const mask = [1, 1, 1, 0, 1, 1];
    const q = f32(randn(rng, d.b * d.t * d.hq * d.dh));
    const k = f32(randn(rng, d.b * d.s * d.hkv * d.dh));
    const v = f32(randn(rng, d.b * d.s * d.hkv * d.dh));
    const r = f32(randn(rng, q.length));
    const offset = 1;
    expect(attentionRef(q, k, v, d, mask, offset, true).dead.size).toBe(0);
    const fd = fdGrads(
      (xs) => dot(attentionRef(xs[0], xs[1], xs[2], d, mask, offset, true).out, r),
      [q, k, v],
    );
    const km = tf.tensor2d(mask, [2, 3]);
    const ts = [t4(q, [2, 2, 4, 3]), t4(k, [2, 3, 2, 3]), t4(v, [2, 3, 2, 3])];
    const g = tfGrads(
      (xs) =>
        attention(xs[0] as tf.Tensor4D, xs[1] as tf.Tensor4D, xs[2] as tf.Tensor4D, {
          keyMask: km,
        }),
      ts,
      r,
    );
    tf.dispose([km, ...ts]);
    for (let i = 0; i < 3; i++) expect(relErr(g[i], fd[i])).toBeLessThan(1e-3);
  });

  it('rejects head counts that do not divide', () => {
    const q = tf.zeros([1, 1, 3, 2]) as tf.Tensor4D;
    const k = tf.zeros([1, 1, 2, 2]) as tf.Tensor4D;
    expect(() => attention(q, k, k)).toThrow(
      /query heads \(3\) must be a multiple of kv heads \(2\)/,
    );
    tf.dispose([q, k]);
  });

  it('keeps numTensors flat over 50 forward+backward iterations', () => {
    const q = tf.variable(tf.randomNormal([2, 3, 4, 4])) as tf.Variable<tf.Rank.R4>;
    const k = tf.variable(tf.randomNormal([2, 3, 2, 4])) as tf.Variable<tf.Rank.R4>;
    const v = tf.variable(tf.randomNormal([2, 3, 2, 4])) as tf.Variable<tf.Rank.R4>;
    const km = tf.tensor2d([0, 1, 1, 1, 1, 1], [2, 3]);
    const step = (): void => {
      const { value, grads } = tf.variableGrads(
        () => tf.sum(tf.square(attention(q, k, v, { keyMask: km }))) as tf.Scalar,
        [q, k, v],
      );
      tf.dispose([value, ...Object.values(grads)]);
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([q, k, v, km]);
  });
});
