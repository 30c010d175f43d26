import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NATIVE_MATMUL_ADDON_PATH } from './nativeMatmul';

// The addon's vectorised exp (native/src/vexp.c: glibc's libmvec expf on AVX-512 or
// AVX2, scalar expf otherwise), which softmax, log-sum-exp, the LM head's logits
// gradient, SwiGLU and the elementwise exp all go through. Checked through the
// elementwise exp against float64 Math.exp rounded to float32, over the whole float32
// range of exp (normal, subnormal and overflowing results), the special values, and
// every length 1..40 (the vector tails). Each path runs in a child process, since
// RXRL_EXP is read once when the addon loads.
const CHECK = `
const addon = require(process.argv[1]);
const U_EXP = 0;
const xs = [];
for (let x = -110; x <= 90; x += 0.0123) xs.push(x);
for (const x of [0, -0, 1e-30, -1e-30, 88.72, 88.73, -87.33, -87.34, -103.9, -104, 1e10, -1e10]) xs.push(x);
const x = Float32Array.from(xs);
const out = new Float32Array(x.length);
addon.unary(U_EXP, x, out);
let worstUlp = 0, worstAbsTiny = 0, overflowOk = true;
for (let i = 0; i < x.length; i++) {
  const want = Math.fround(Math.exp(x[i]));
  if (want === Infinity) { overflowOk = overflowOk && out[i] === Infinity; continue; }
  if (want < 2 ** -126) { worstAbsTiny = Math.max(worstAbsTiny, Math.abs(out[i] - want)); continue; }
  const ulp = 2 ** (Math.floor(Math.log2(want)) - 23);
  worstUlp = Math.max(worstUlp, Math.abs(out[i] - want) / ulp);
}
const special = new Float32Array([Infinity, -Infinity, NaN, 0]);
const so = new Float32Array(4);
addon.unary(U_EXP, special, so);
// every length 1..40 (in place, as the kernels call it) gives what the long array gave
let tailsOk = true;
for (let n = 1; n <= 40; n++) {
  const part = x.slice(1000, 1000 + n);
  addon.unary(U_EXP, part, part);
  for (let i = 0; i < n; i++) tailsOk = tailsOk && part[i] === out[1000 + i];
}
console.log(JSON.stringify({ n: x.length, worstUlp, worstAbsTiny, overflowOk, special: Array.from(so).map(String), tailsOk }));
`;

function check(env: Record<string, string>) {
  const r = spawnSync(process.execPath, ['-e', CHECK, NATIVE_MATMUL_ADDON_PATH], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as {
    n: number;
    worstUlp: number;
    worstAbsTiny: number;
    overflowOk: boolean;
    special: string[];
    tailsOk: boolean;
  };
}

describe.runIf(existsSync(NATIVE_MATMUL_ADDON_PATH))('native vectorised exp', () => {
  // libmvec's vector expf is within 2 ulp of the correctly rounded float32 exp (measured
  // here: 2 at most, over the 16,273 points), glibc's scalar expf within 1
  for (const [name, env, ulps] of [
    ['default dispatch (AVX-512 where the CPU has it)', {}, 2],
    ['AVX2 path (RXRL_EXP=avx2)', { RXRL_EXP: 'avx2' }, 2],
    ['scalar expf (RXRL_EXP=scalar)', { RXRL_EXP: 'scalar' }, 1],
  ] as const) {
    it(`${name}: within ${ulps} ulp of exp over [-110, 90], subnormals within 2^-148, overflow to +inf, exp(±inf, NaN, 0), every tail length`, () => {
      const r = check(env);
      expect(r.n).toBe(16273);
      expect(r.worstUlp).toBeLessThanOrEqual(ulps);
      expect(r.worstAbsTiny).toBeLessThanOrEqual(2 ** -148);
      expect(r.overflowOk).toBe(true);
      expect(r.special).toEqual(['Infinity', '0', 'NaN', '1']);
      expect(r.tailsOk).toBe(true);
    });
  }
});
