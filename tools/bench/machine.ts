import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { nativeMatmulAddon } from '@rxrl/core';

/**
 * What speed ratios depend on, stated with every bench run: CPU model, core
 * count and vector flags, and the OpenBLAS build and core type our native
 * kernels use (PyTorch's side reports its own).
 */
export function describeMachine(): string {
  let flags: string[] = [];
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    flags = ['avx512f', 'avx512_bf16', 'avx2', 'fma'].filter((f) =>
      new RegExp(`\\b${f}\\b`).test(info),
    );
  } catch {
    // not Linux: no flags to report
  }
  const addon = nativeMatmulAddon();
  const blas = addon
    ? `${addon.blasConfig()}, ${addon.getThreads()} thread(s)`
    : 'native addon not built';
  return `${cpus()[0]?.model} × ${cpus().length} cores (${flags.join(', ') || 'flags unknown'}); ours: ${blas}`;
}
