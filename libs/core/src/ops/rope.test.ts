import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, beforeAll } from 'vitest';
import { Rng } from '../base/rng';
import { TEST_BACKENDS, useBackend } from '../testing';
import { applyRope, positionsFromMask, ropeCosSin, ropeInvFreq, type RopeConfig } from './rope';
import { dot, f32, fdGrads, maxAbsDiff, randn, relErr, tfGrads } from './gradCheck.testkit';

const LLAMA3: RopeConfig = {
  headDim: 128,
  ropeTheta: 500000,
  ropeScaling: {
    rope_type: 'llama3',
    factor: 8,
    low_freq_factor: 1,
    high_freq_factor: 4,
    original_max_position_embeddings: 8192,
  },
};

/** Independent float64 Llama-3 frequencies: written from the wavelength bands of the Llama 3 paper code. */
function llama3InvFreqRef(
  d: number,
  theta: number,
  factor: number,
  low: number,
  high: number,
  orig: number,
): number[] {
  const out: number[] = [];
  for (let i = 0; i < d; i += 2) {
    const f = Math.exp((-i / d) * Math.log(theta));
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < orig / high) out.push(f);
    else if (wavelen > orig / low) out.push(f / factor);
    else {
      const smooth = (orig / wavelen - low) / (high - low);
      out.push(f * ((1 - smooth) / factor + smooth));
    }
  }
  return out;
}

/** float64 HF rotate-half RoPE on [B,T,H,Dh] with per-(b,t) angles pos·inv. */
function applyRopeRef(
  x: Float64Array,
  pos: Int32Array,
  inv: ArrayLike<number>,
  b: number,
  t: number,
  h: number,
  dh: number,
): Float64Array {
  const y = new Float64Array(x.length);
  const half = dh / 2;
  for (let bt = 0; bt < b * t; bt++) {
    for (let hh = 0; hh < h; hh++) {
      const o = (bt * h + hh) * dh;
      for (let i = 0; i < half; i++) {
        const a = pos[bt] * inv[i];
        const [x1, x2] = [x[o + i], x[o + i + half]];
        y[o + i] = x1 * Math.cos(a) - x2 * Math.sin(a);
        y[o + i + half] = x2 * Math.cos(a) + x1 * Math.sin(a);
      }
    }
  }
  return y;
}

describe('rope frequencies and positions', () => {
  it('plain inverse frequencies are theta^(-2i/d)', () => {
    const inv = ropeInvFreq({ headDim: 8, ropeTheta: 10000 });
    expect(Array.from(inv)).toHaveLength(4);
    expect(maxAbsDiff(inv, [1, 0.1, 0.01, 0.001])).toBeLessThan(1e-15);
  });

  it('llama3 rope_scaling matches an independent float64 implementation across all three bands', () => {
    const inv = ropeInvFreq(LLAMA3);
    const want = llama3InvFreqRef(128, 500000, 8, 1, 4, 8192);
    for (let i = 0; i < 64; i++) expect(Math.abs(inv[i] - want[i]) / want[i]).toBeLessThan(1e-12);
    // band check: high frequencies untouched, lowest divided by 8, some interpolated in between
    const plain = ropeInvFreq({ headDim: 128, ropeTheta: 500000 });
    expect(inv[0]).toBe(1);
    expect(inv[63]).toBeCloseTo(plain[63] / 8, 20);
    const medium = Array.from(inv).filter(
      (f, i) => f < plain[i] && Math.abs(f - plain[i] / 8) > 1e-12 * plain[i],
    );
    expect(medium.length).toBeGreaterThan(0);
  });

  it('llama3 band edges are original_max_position_embeddings / low_freq_factor and / high_freq_factor', () => {
    // θ = 10⁴, d = 8: plain frequencies 1, 0.1, 0.01, 0.001, wavelengths 2π·(1, 10, 100, 1000).
    // Edges 1000 / 2 = 500 and 1000 / 20 = 50 (factors ≠ 1, so a product in place of the
    // quotient moves them): 2π stays, 20π is interpolated, 200π and 2000π are divided by 4.
    const inv = ropeInvFreq({
      headDim: 8,
      ropeTheta: 10000,
      ropeScaling: {
        rope_type: 'llama3',
        factor: 4,
        low_freq_factor: 2,
        high_freq_factor: 20,
        original_max_position_embeddings: 1000,
      },
    });
    const smooth = (1000 / (20 * Math.PI) - 2) / (20 - 2); // (orig / wavelength − low) / (high − low)
    const want = [1, 0.1 * ((1 - smooth) / 4 + smooth), 0.01 / 4, 0.001 / 4];
    expect(smooth).toBeCloseTo(0.773083, 6);
    for (let i = 0; i < 4; i++) expect(Math.abs(inv[i] - want[i]) / want[i]).toBeLessThan(1e-12);
  });

  it('positions from a left-padded mask are cumsum − 1 clamped at 0', () => {
    expect(Array.from(positionsFromMask([0, 0, 1, 1, 1, 1, 1, 1, 1, 1], 2, 5))).toEqual([
      0, 0, 0, 1, 2, 0, 1, 2, 3, 4,
    ]);
  });
});

describe.each(TEST_BACKENDS)('rope on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('cos/sin tables hold cos/sin(pos·invFreq) repeated over both halves', () => {
    const pos = Int32Array.from([0, 3, 7000, 5]);
    const { cos, sin } = ropeCosSin(pos, 2, 2, LLAMA3);
    expect(cos.shape).toEqual([2, 2, 128]);
    const inv = llama3InvFreqRef(128, 500000, 8, 1, 4, 8192);
    const wantCos = Array.from(pos).flatMap((p) => [...inv, ...inv].map((f) => Math.cos(p * f)));
    const wantSin = Array.from(pos).flatMap((p) => [...inv, ...inv].map((f) => Math.sin(p * f)));
    expect(maxAbsDiff(cos.dataSync(), wantCos)).toBeLessThan(1e-6);
    expect(maxAbsDiff(sin.dataSync(), wantSin)).toBeLessThan(1e-6);
    tf.dispose([cos, sin]);
  });

  it('applyRope matches a float64 rotate-half implementation, and its gradient matches finite differences', () => {
    const rng = new Rng(21);
    const [b, t, h, dh] = [2, 3, 2, 8];
    const cfg: RopeConfig = { headDim: dh, ropeTheta: 10000 };
    const pos = positionsFromMask([0, 1, 1, 1, 1, 1], b, t);
    const inv = ropeInvFreq(cfg);
    const x = f32(randn(rng, b * t * h * dh));
    const r = f32(randn(rng, x.length));
    const { cos, sin } = ropeCosSin(pos, b, t, cfg);
    const xt = tf.tensor4d(Float32Array.from(x), [b, t, h, dh]);
    const y = applyRope(xt, cos, sin);
    expect(maxAbsDiff(y.dataSync(), applyRopeRef(x, pos, inv, b, t, h, dh))).toBeLessThan(1e-5);
    const [fd] = fdGrads((xs) => dot(applyRopeRef(xs[0], pos, inv, b, t, h, dh), r), [x]);
    const [g] = tfGrads((xs) => applyRope(xs[0] as tf.Tensor4D, cos, sin), [xt], r);
    expect(relErr(g, fd)).toBeLessThan(1e-3);
    tf.dispose([cos, sin, xt, y]);
  });
});
