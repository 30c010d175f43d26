import * as tf from '@tensorflow/tfjs-core';
import { timeIt, type BenchCase, type BenchRecord } from '../benchCase';

/**
 * The machine's own ceiling on this backend: plain, non-transposed 2-D
 * float32 matMul, the one product XNNPACK accelerates on wasm. Every
 * compute-bound case reports its FLOP rate as a fraction of the best of these.
 */
export async function measureMatmulPeak(
  quick: boolean,
): Promise<{ best: number; records: BenchRecord[] }> {
  const sizes = quick ? [256, 512] : [256, 512, 1024];
  const records: BenchRecord[] = [];
  let best = 0;
  for (const n of sizes) {
    const a = tf.randomNormal([n, n]);
    const b = tf.randomNormal([n, n]);
    const ms = await timeIt(
      async () => {
        const c = tf.matMul(a, b);
        await c.data();
        c.dispose();
      },
      quick ? 3 : 8,
    );
    a.dispose();
    b.dispose();
    const gflops = (2 * n ** 3) / (ms * 1e6);
    best = Math.max(best, gflops);
    records.push({ name: `matmul_${n}`, backend: tf.getBackend(), value: gflops, unit: 'GFLOP/s' });
  }
  return { best, records };
}

export const matmulPeak: BenchCase = {
  name: 'matmul_peak',
  async run(ctx) {
    return (await measureMatmulPeak(ctx.quick)).records;
  },
};
