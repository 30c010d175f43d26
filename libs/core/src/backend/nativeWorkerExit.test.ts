import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NATIVE_MATMUL_ADDON_PATH } from './nativeMatmul';

// Worker threads that use the addon's per-thread state (the LM head's logits scratch) and
// its OpenMP regions, then exit. Node unloads an addon when a worker's environment ends,
// before the thread itself exits: per-thread state freed by a pthread key's destructor,
// and the libgomp threads the worker started, then ran unmapped code and killed the process
// with SIGSEGV (vitest's thread pool found both; a GRPO generation worker could hit them).
// The scratch is now freed by the environment's cleanup hook, and the addon pins itself
// (RTLD_NODELETE) so it and its libraries stay mapped.
const CHECK = `
const { Worker } = require('node:worker_threads');
const path = process.argv[1];
const code = \`const a = require(\${JSON.stringify(path)});
const h = new Float32Array(12).fill(0.1), w = new Float32Array(15).fill(0.2);
const lse = new Float32Array(4), v = new Float32Array(4);
a.lmHeadForward(h, w, Int32Array.of(0, 1, 2, 3), 4, 3, 5, false, 1, 2, lse, v);
if (!(Math.abs(lse[0] - Math.log(5) - 0.06) < 1e-6)) process.exit(4);
// OpenMP regions (a batch of small products, rows of a softmax): libgomp threads that
// outlive the worker
a.setThreads(2);
const x = new Float32Array(4 * 32 * 32).fill(1), o = new Float32Array(4 * 32 * 32);
const ix = Int32Array.of(0, 1, 2, 3);
a.sgemm(32, 32, 32, x, x, o, false, false, ix, ix);
if (o[0] !== 32) process.exit(5);
const z = new Float32Array(1024 * 128), p = new Float32Array(1024 * 128);
a.softmaxRows(z, p, 1024, 128, false);
if (Math.abs(p[0] - 1 / 128) > 1e-9) process.exit(6);\`;
let done = 0;
for (let i = 0; i < 3; i++)
  new Worker(code, { eval: true }).on('exit', (c) => {
    if (c !== 0) process.exit(3);
    if (++done === 3) console.log('ok');
  });
`;

describe.runIf(existsSync(NATIVE_MATMUL_ADDON_PATH))('native addon in worker threads', () => {
  it('three workers use the LM-head scratch and OpenMP regions and exit; the process lives on', () => {
    const r = spawnSync(process.execPath, ['-e', CHECK, NATIVE_MATMUL_ADDON_PATH], {
      encoding: 'utf8',
    });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('ok');
  });
});
