// Plain 2-D matMul throughput on the wasm backend, XNNPACK vs the native
// OpenBLAS kernel at 1 and 2 threads. Run: npx tsx libs/core/native/bench.ts [sizes...]
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/backend/selectBackend';
import { disableNativeMatmul, enableNativeMatmul } from '../src/backend/nativeMatmul';

function gflops(n: number, seconds: number): number {
  return (2 * n * n * n) / seconds / 1e9;
}

function time(n: number): number {
  const a = tf.randomNormal([n, n]);
  const b = tf.randomNormal([n, n]);
  tf.matMul(a, b).dispose(); // warm-up
  const reps = Math.max(3, Math.round(2e9 / (2 * n * n * n)));
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    const y = tf.matMul(a, b);
    y.dataSync();
    best = Math.min(best, (performance.now() - t0) / 1000);
    y.dispose();
  }
  tf.dispose([a, b]);
  return gflops(n, best);
}

const sizes = process.argv.slice(2).map(Number);
await selectBackend('wasm');
for (const n of sizes.length ? sizes : [512, 1024]) {
  disableNativeMatmul();
  const wasm = time(n);
  const row = [`n=${n}`, `wasm ${wasm.toFixed(1)}`];
  for (const threads of [1, 2]) {
    const s = enableNativeMatmul({ threads });
    if (!s.enabled) {
      row.push(s.reason);
      break;
    }
    const nat = time(n);
    row.push(`native(${threads}t) ${nat.toFixed(1)} (${(nat / wasm).toFixed(1)}x)`);
  }
  console.log(row.join('  ') + '  GFLOP/s (best of reps)');
}
