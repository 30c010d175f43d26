/**
 * A benchmark case: one named measurement that yields one or more records.
 * Cases live one per file under tools/bench/cases/ and are listed in run.ts.
 */
export interface BenchRecord {
  /** e.g. `train_step` */
  name: string;
  backend: string;
  /** model preset when a model is involved (`tiny`, `small`) */
  preset?: string;
  batch?: number;
  seqLen?: number;
  /** throughput, in the unit `unit` names */
  value: number;
  unit: 'tokens/s' | 'rows/s' | 'GFLOP/s' | 'ms' | 'fraction';
  /** achieved FLOP rate as a fraction of this run's plain matMul peak */
  fractionOfPeak?: number;
  /** ours / PyTorch, measured back to back in this run */
  vsPytorch?: number;
  /** PyTorch's throughput for the same measurement, in `unit` (filled by the driver) */
  pytorch?: number;
  /**
   * The PyTorch measurement to pair with this record: the driver runs
   * tools/reference/bench_torch.py with it right after the case and fills
   * `pytorch` and `vsPytorch`. Generation records without one are paired from
   * their own fields (see `torchSpecFor` in pytorch.ts).
   */
  torch?: TorchSpec;
  notes?: string;
}

/** One measurement for tools/reference/bench_torch.py (same field names as its JSON specs). */
export interface TorchSpec {
  mode: 'train' | 'logprob' | 'generate';
  preset: 'tiny' | 'small';
  vocab: number;
  batch: number;
  /** sequence length; generate: prompt length */
  seq: number;
  /** generate: tokens decoded per row */
  new_tokens?: number;
  /** generate: sample at temperature 1 instead of greedy */
  sample?: boolean;
  /** generate: compare against decode-only tokens/s (prefill excluded) */
  decode_only?: boolean;
  iters?: number;
}

export interface BenchContext {
  backend: string;
  /** plain 2-D matMul throughput measured at the start of this run */
  peakGflops: number;
  /** when set, run smaller sizes (for a smoke check) */
  quick: boolean;
}

export interface BenchCase {
  name: string;
  /** runs only when `--only` names it (slow cases, e.g. `real`) */
  optIn?: boolean;
  run(ctx: BenchContext): Promise<BenchRecord[]>;
}

/** Median wall time of `fn` in ms after `warmup` untimed calls. */
export async function timeIt(
  fn: () => Promise<void> | void,
  iters: number,
  warmup = 2,
): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}
