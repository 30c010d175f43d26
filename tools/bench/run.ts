/**
 * `npm run bench`: every benchmark case in one process, on one backend, with
 * the machine's matMul peak measured in the same run so ratios stay honest on
 * a shared, noisy machine. Writes bench/results.json and prints a table.
 *
 *   npm run bench                       # all cases, auto backend
 *   npm run bench -- --backend cpu      # another backend
 *   npm run bench -- --quick            # smaller sizes, a smoke check
 *   npm run bench -- --only train_step  # cases whose name contains the text
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { describeBackend, selectBackend } from '@rxrl/core';
import type { BenchCase, BenchContext, BenchRecord } from './benchCase';
import { measureMatmulPeak } from './cases/matmulPeak';
import { cases } from './cases/index';

const { values } = parseArgs({
  options: {
    backend: { type: 'string' },
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string', default: 'bench/results.json' },
  },
});

const choice = await selectBackend(values.backend ?? null);
console.log(describeBackend(choice));
const peak = await measureMatmulPeak(values.quick!);
console.log(`plain 2-D matMul peak: ${peak.best.toFixed(1)} GFLOP/s`);
const ctx: BenchContext = { backend: choice.backend, peakGflops: peak.best, quick: values.quick! };

const records: BenchRecord[] = [...peak.records];
const selected: BenchCase[] = cases.filter((c) => !values.only || c.name.includes(values.only));
for (const c of selected) {
  process.stdout.write(`running ${c.name} … `);
  const t0 = performance.now();
  try {
    const out = await c.run(ctx);
    records.push(...out);
    console.log(`${((performance.now() - t0) / 1000).toFixed(1)} s`);
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
  `${fmt(r.value, 1)} ${r.unit}`,
  fmt(r.fractionOfPeak),
  fmt(r.vsPytorch),
  r.notes ?? '',
]);
const header = ['case', 'preset', 'batch×seq', 'value', 'of peak', 'vs torch', 'notes'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
console.log('\n' + line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));
console.log(`\nwrote ${values.out}`);
