import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NATIVE_MATMUL_ADDON_PATH, nativeMatmulAddon } from './nativeMatmul';

// The addon's few-row kernel (native/src/skinny.c, M ≤ 16 rows, a not
// transposed) against a float64 loop, on sizes that are not multiples of its
// tiles: 48-column / 3-row panels, 8-row groups, 128-row k-blocks, 16-lane
// vectors. The same check runs in a child process with RXRL_SKINNY_AVX512=0
// (the AVX2 path) and with RXRL_SKINNY=0 (OpenBLAS), since each switch is
// read once per process.
const CHECK = `
const addon = require(process.argv[1]);
let seed = 12345;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
let worst = 0, count = 0;
for (const tB of [false, true])
  for (let M = 2; M <= 16; M++)
    for (const [N, K] of [[1 + 2 * M, 7], [47, 129], [50, 300], [97, 17], [130, 257], [16, 16], [2, 1]]) {
      const a = Float32Array.from({ length: M * K }, rnd);
      const b = Float32Array.from({ length: K * N }, rnd);
      const out = new Float32Array(M * N).fill(NaN);
      addon.sgemm(M, N, K, a, b, out, false, tB);
      for (let i = 0; i < M; i++)
        for (let j = 0; j < N; j++) {
          let s = 0, mag = 0;
          for (let k = 0; k < K; k++) {
            const p = a[i * K + k] * (tB ? b[j * K + k] : b[k * N + j]);
            s += p; mag += Math.abs(p);
          }
          worst = Math.max(worst, Math.abs(out[i * N + j] - s) / mag);
          count++;
        }
    }
// batched small products (attention over a decode batch: 16 × [7, 64]·[64, 38]),
// one thread per product; b blocks shared pairwise as under GQA broadcasting
let batchedWorst = 0;
for (const tB of [false, true]) {
  const [P, M, N, K] = [16, 7, 38, 64];
  const a = Float32Array.from({ length: P * M * K }, rnd);
  const b = Float32Array.from({ length: (P / 2) * K * N }, rnd);
  const out = new Float32Array(P * M * N).fill(NaN);
  const ai = Int32Array.from({ length: P }, (_, p) => p);
  const bi = Int32Array.from({ length: P }, (_, p) => p >> 1);
  addon.sgemm(M, N, K, a, b, out, false, tB, ai, bi);
  for (let p = 0; p < P; p++)
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0, mag = 0;
        for (let k = 0; k < K; k++) {
          const bv = tB ? b[bi[p] * K * N + j * K + k] : b[bi[p] * K * N + k * N + j];
          const x = a[p * M * K + i * K + k] * bv;
          s += x; mag += Math.abs(x);
        }
        batchedWorst = Math.max(batchedWorst, Math.abs(out[p * M * N + i * N + j] - s) / mag);
      }
}
console.log(JSON.stringify({ worst, count, batchedWorst }));
`;

function check(env: Record<string, string>): {
  worst: number;
  count: number;
  batchedWorst: number;
} {
  const r = spawnSync(process.execPath, ['-e', CHECK, NATIVE_MATMUL_ADDON_PATH], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as { worst: number; count: number; batchedWorst: number };
}

describe.runIf(existsSync(NATIVE_MATMUL_ADDON_PATH))('native few-row (skinny) kernel', () => {
  it('is loaded', () => {
    expect(nativeMatmulAddon()).not.toBeNull();
  });
  // float32 sums of ≤ 300 products: error a few ulps of Σ|a·b| (6e-8 each)
  for (const [name, env] of [
    ['default dispatch (AVX-512 where the CPU has it)', {}],
    ['AVX2 path (RXRL_SKINNY_AVX512=0)', { RXRL_SKINNY_AVX512: '0' }],
    ['OpenBLAS (RXRL_SKINNY=0)', { RXRL_SKINNY: '0' }],
  ] as const) {
    it(`${name}: M 2..16, ragged N and K, both b layouts, and a batch of 16 small products, within 1e-6 of Σ|a·b| of a float64 loop`, () => {
      const { worst, count, batchedWorst } = check(env);
      // Σ over both layouts, M 2..16 and the seven (N, K) of M·N output elements
      expect(count).toBe(
        2 *
          Array.from({ length: 15 }, (_, i) => i + 2).reduce(
            (s, M) => s + M * (1 + 2 * M + 47 + 50 + 97 + 130 + 16 + 2),
            0,
          ),
      );
      expect(worst).toBeLessThan(1e-6);
      expect(batchedWorst).toBeLessThan(1e-6);
    });
  }
});
