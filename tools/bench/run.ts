/**
 * `npm run bench`: every benchmark case in one process, on one backend, with
 * the machine's matMul peak measured in the same run so ratios stay honest on
 * a shared, noisy machine. Writes bench/results.json and prints a table.
 *
 *   npm run bench                       # all cases, auto backend
 *   npm run bench -- --backend cpu      # another backend
 *   npm run bench -- --quick            # smaller sizes, a smoke check
 *   npm run bench -- --only train_step  # that case (or cases containing the text); a,b for several
 *   npm run bench -- --no-torch         # skip the PyTorch comparison
 *   npm run bench -- --only real        # real size: the Qwen2.5-0.5B layout vs PyTorch (opt-in, slow)
 *   npm run bench -- --only real_grpo   # its GRPO step by phase only
 *   npm run bench -- --only real_generate  # its two generation rows only
 *
 * After each case, the records that name a PyTorch measurement (or that
 * pytorch.ts pairs by their fields) are measured by
 * tools/reference/bench_torch.py right away, and `vsPytorch` = ours / PyTorch
 * as a speed ratio (> 1: we are faster).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { describeBackend, selectBackend } from '@rxrl/core';
import type { BenchCase, BenchContext, BenchRecord } from './benchCase';
import { measureMatmulPeak } from './cases/matmulPeak';
import { describeMachine } from './machine';
import { cases } from './cases/index';
import {
  runTorch,
  speedRatio,
  torchSpecFor,
  torchUnavailable,
  torchValue,
  type TorchEnv,
} from './pytorch';

const { values } = parseArgs({
  options: {
    backend: { type: 'string' },
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string', default: 'bench/results.json' },
    'no-torch': { type: 'boolean', default: false },
  },
});

const choice = await selectBackend(values.backend ?? null);
console.log(describeBackend(choice));
const machine = describeMachine();
console.log(`machine: ${machine}`);
const peak = await measureMatmulPeak(values.quick!);
console.log(`plain 2-D matMul peak: ${peak.best.toFixed(1)} GFLOP/s`);
const ctx: BenchContext = { backend: choice.backend, peakGflops: peak.best, quick: values.quick! };

const records: BenchRecord[] = [...peak.records];
const torchMissing = values['no-torch'] ? 'skipped (--no-torch)' : await torchUnavailable();
if (torchMissing) console.log(`PyTorch comparison: ${torchMissing}`);
let torchEnv: TorchEnv | undefined;

/** Measures the PyTorch side of `out` right after our side, and fills the ratios. */
async function compareWithTorch(out: BenchRecord[]): Promise<void> {
  if (torchMissing) return;
  const paired = out
    .map((r) => ({ r, spec: torchSpecFor(r, values.quick!) }))
    .filter((p): p is { r: BenchRecord; spec: NonNullable<typeof p.spec> } => p.spec !== undefined);
  if (paired.length === 0) return;
  process.stdout.write(`  pytorch (${paired.length}) … `);
  const t0 = performance.now();
  try {
    const res = await runTorch(paired.map((p) => p.spec));
    if (!torchEnv) {
      torchEnv = res.env;
      const openblas = res.env.blas_libraries.some((l) => l.includes('openblas'));
      console.log(
        `\n  torch ${res.env.torch}, threads tried ${res.env.threads.join(' and ')}, BLAS: ${res.env.blas_libraries.join(', ') || 'none mapped'}`,
      );
      if (!openblas)
        console.log(
          '  WARNING: torch is not using OpenBLAS; install libopenblas0-pthread or the comparison flatters us',
        );
    }
    paired.forEach(({ r, spec }, i) => {
      r.torch = spec;
      r.pytorch = torchValue(spec, res.results[i]!, r.unit);
      r.vsPytorch = speedRatio(r.value, r.pytorch, r.unit);
      const byT = Object.entries(res.results[i]!.tokens_per_s_by_threads)
        .map(([t, v]) => `${t}T ${v.toFixed(0)}`)
        .join(', ');
      r.notes = `${r.notes ?? ''}${r.notes ? '; ' : ''}torch tok/s ${byT}`;
    });
    console.log(`${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } catch (err) {
    const e = err as Error & { stderr?: string };
    console.log(
      `failed: ${e.message.split('\n')[0]} ${e.stderr?.split('\n').slice(-3).join(' ') ?? ''}`,
    );
  }
}
// --only a,b: a case named exactly a, else every case whose name contains a
const wanted = values.only?.split(',');
const matches = (name: string, o: string) =>
  cases.some((c) => c.name === o) ? name === o : name.includes(o);
const selected: BenchCase[] = cases.filter((c) =>
  wanted ? wanted.some((o) => (c.optIn ? c.name === o : matches(c.name, o))) : !c.optIn,
);
for (const c of selected) {
  process.stdout.write(`running ${c.name} … `);
  const t0 = performance.now();
  try {
    const out = await c.run(ctx);
    console.log(`${((performance.now() - t0) / 1000).toFixed(1)} s`);
    await compareWithTorch(out);
    records.push(...out);
  } catch (err) {
    console.log(`failed: ${(err as Error).message}`);
    records.push({
      name: c.name,
      backend: ctx.backend,
      value: NaN,
      unit: 'ms',
      notes: `failed: ${(err as Error).message}`,
    });
  }
}

mkdirSync(values.out!.replace(/\/[^/]*$/, ''), { recursive: true });
writeFileSync(
  values.out!,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      backend: ctx.backend,
      peakGflops: peak.best,
      cores: (await import('node:os')).cpus().length,
      cpu: (await import('node:os')).cpus()[0]?.model,
      machine,
      node: process.version,
      pytorch: torchEnv ?? { unavailable: torchMissing },
      records,
    },
    null,
    2,
  ) + '\n',
);

const fmt = (x: number | undefined, d = 2) =>
  x === undefined || Number.isNaN(x) ? '' : x.toFixed(d);
const rows = records.map((r) => [
  r.name,
  r.preset ?? '',
  r.batch !== undefined ? `${r.batch}×${r.seqLen ?? ''}` : '',
  r.unit === 'fraction'
    ? `${fmt(100 * r.value, 2)} %`
    : `${fmt(r.value, r.value < 10 ? 2 : 1)} ${r.unit}`,
  fmt(r.fractionOfPeak),
  r.pytorch !== undefined ? `${fmt(r.pytorch, 1)} ${r.unit}` : '',
  fmt(r.vsPytorch),
  r.notes ?? '',
]);
const header = ['case', 'preset', 'batch×seq', 'value', 'of peak', 'pytorch', 'vs torch', 'notes'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
console.log('\n' + line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));
console.log(`\nwrote ${values.out}`);
