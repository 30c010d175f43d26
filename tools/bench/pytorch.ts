import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchRecord, TorchSpec } from './benchCase';

/** Debian's python (the one python3-torch installs into); BENCH_PYTHON overrides. */
const PYTHON = process.env['BENCH_PYTHON'] ?? '/usr/bin/python3';
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', 'reference', 'bench_torch.py');

export const TORCH_INSTALL_HINT =
  "PyTorch not available: install Debian's build with OpenBLAS (`apt-get install python3-torch libopenblas0-pthread`) " +
  `so ${PYTHON} can import torch; without libopenblas0-pthread torch falls back to the ~15x slower reference BLAS.`;

/** What bench_torch.py reports about the PyTorch it ran on. */
export interface TorchEnv {
  torch: string;
  /** thread counts each spec ran with (all cores, and 1); the better result is used */
  threads: number[];
  blas_info: string | null;
  /** BLAS shared objects mapped into the process after a matmul */
  blas_libraries: string[];
}

export interface TorchResult extends TorchSpec {
  seconds: number;
  tokens_per_s: number;
  decode_tokens_per_s?: number;
  /** thread count of the reported (better) run */
  threads: number;
  tokens_per_s_by_threads: Record<string, number>;
}

function exec(args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, args, { maxBuffer: 16 << 20, timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { stderr }));
      else resolve({ stdout, stderr });
    });
  });
}

let available: Promise<string | null> | undefined;

/** null when /usr/bin/python3 can import torch, else why not (with the install hint). */
export function torchUnavailable(): Promise<string | null> {
  available ??= (async () => {
    if (!existsSync(PYTHON)) return `${PYTHON} not found. ${TORCH_INSTALL_HINT}`;
    try {
      await exec(['-c', 'import torch'], 120_000);
      return null;
    } catch {
      return TORCH_INSTALL_HINT;
    }
  })();
  return available;
}

/** Runs `specs` in one bench_torch.py process (all cores); results in the same order. */
export async function runTorch(
  specs: TorchSpec[],
): Promise<{ env: TorchEnv; results: TorchResult[] }> {
  const { stdout } = await exec([SCRIPT, JSON.stringify(specs)], 1_800_000);
  return JSON.parse(stdout) as { env: TorchEnv; results: TorchResult[] };
}

/**
 * The PyTorch measurement to pair with `r`: its own `torch` spec, or one built
 * from the generation case's records (cases/generation.ts, llama presets):
 *
 * - `generate` (tokens/s, prefill + decode, sampled): a sampled generate spec;
 *   prompt length, new tokens and vocabulary from its notes
 *   (`prompt P, N new tokens, vocab V`), else prompt 16, `seqLen − 16` new tokens;
 * - `decode_step` (ms per cached step at context `seqLen`, batch 1): a
 *   decode-only generate spec with a prompt of `seqLen`.
 */
export function torchSpecFor(r: BenchRecord, quick: boolean): TorchSpec | undefined {
  if (r.torch) return { iters: quick ? 2 : 3, ...r.torch };
  if (r.preset !== 'tiny' && r.preset !== 'small') return undefined;
  if (r.batch === undefined || r.seqLen === undefined) return undefined;
  const m = /prompt (\d+), (\d+) new tokens, vocab (\d+)/.exec(r.notes ?? '');
  const vocabNote = /vocab (\d+)/.exec(r.notes ?? '');
  const vocab = vocabNote ? Number(vocabNote[1]) : GENERATION_VOCAB;
  if (r.name === 'generate' && r.unit === 'tokens/s') {
    const prompt = m ? Number(m[1]) : 16;
    return {
      mode: 'generate',
      preset: r.preset,
      vocab,
      batch: r.batch,
      seq: prompt,
      new_tokens: m ? Number(m[2]) : r.seqLen - prompt,
      sample: true,
      iters: quick ? 1 : 3,
    };
  }
  if (r.name === 'decode_step' && r.unit === 'ms') {
    return {
      mode: 'generate',
      preset: r.preset,
      vocab,
      batch: r.batch,
      seq: r.seqLen,
      new_tokens: quick ? 4 : 8,
      decode_only: true,
      iters: quick ? 1 : 3,
    };
  }
  return undefined;
}

/** Vocabulary cases/generation.ts builds its models with (when its notes do not say). */
const GENERATION_VOCAB = 512;

/**
 * PyTorch's figure for `spec` in the record's unit: tokens/s (decode-only when
 * asked), or for an `ms` record the ms per decode step (batch rows decode together).
 */
export function torchValue(spec: TorchSpec, res: TorchResult, unit: BenchRecord['unit']): number {
  const tps =
    spec.decode_only && res.decode_tokens_per_s !== undefined
      ? res.decode_tokens_per_s
      : res.tokens_per_s;
  return unit === 'ms' ? (1000 * spec.batch) / tps : tps;
}

/** ours / PyTorch as a speed ratio (> 1: we are faster); inverted for times. */
export function speedRatio(ours: number, torch: number, unit: BenchRecord['unit']): number {
  return unit === 'ms' ? torch / ours : ours / torch;
}
