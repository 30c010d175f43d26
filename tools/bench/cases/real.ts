import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BenchCase, BenchContext, BenchRecord } from '../benchCase';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../../..');
/** The Qwen2.5-0.5B-Instruct layout written by tools/models/make-real-layouts.ts. */
const MODEL = process.env['RXRL_REAL_MODEL'] ?? join(ROOT, 'runs/real-layouts/qwen2.5-0.5b');

interface Side {
  tokens_per_s: number;
  seconds: number;
  peak_rss: number;
  load_s: number;
  threads?: number;
  blas?: string;
  /** trainable parameters of a train measurement */
  trainable?: number;
  /** ours, train: whether the step recomputed activations (what `auto` chose) */
  checkpointing?: boolean;
  /** ours: what estimateRunMemory predicts for the measurement (bytes), before loading */
  estimate?: number;
}

/** A `grpo` measurement: each phase's seconds (median over the measured steps). */
interface GrpoSide {
  phases: Record<GrpoPhase | 'other' | 'total', number>;
  peak_rss: number;
  load_s: number;
  steps: number;
  estimate?: number;
  threads?: number;
  blas?: string;
}

const GRPO_PHASES = ['generation', 'logprobs', 'loss_backward', 'optimizer'] as const;
type GrpoPhase = (typeof GRPO_PHASES)[number];

/**
 * One measurement in a child process of its own, so its peak RSS is its own;
 * `load` is the 1-minute load average as it started and ended (on a shared
 * machine, which side ran in a busier minute).
 */
async function measure<T = Side>(
  side: 'rxrl' | 'pytorch',
  spec: object,
): Promise<Measured<T>> {
  const loadBefore = loadavg()[0]!;
  const [cmd, args] =
    side === 'rxrl'
      ? [process.execPath, ['--import', 'tsx', join(ROOT, 'tools/bench/real/ours.ts')]]
      : ['/usr/bin/python3', [join(ROOT, 'tools/bench/real/torch_real.py')]];
  const { stdout } = await run(cmd, [...args, MODEL, JSON.stringify(spec)], {
    cwd: ROOT,
    maxBuffer: 1 << 24,
    timeout: 1_800_000,
  });
  const out = JSON.parse(stdout.trim().split('\n').pop()!) as T;
  return { ...out, load: [loadBefore, loadavg()[0]!] };
}

type Measured<T> = T & { load: [number, number] };

/** `load 21.2→20.2`: the 1-minute load average over a measurement. */
const loadNote = (m: Measured<object>) =>
  `load ${m.load[0].toFixed(1)}→${m.load[1].toFixed(1)}`;

const gb = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;

/** `; estimate 8.1 GiB (0.90× measured)`: estimateRunMemory next to the peak RSS it predicts. */
const estimateNote = (ours: { estimate?: number; peak_rss: number }) =>
  ours.estimate !== undefined
    ? `; estimate ${gb(ours.estimate)} (${(ours.estimate / ours.peak_rss).toFixed(2)}× measured)`
    : '';

function modelMissing(): Error | null {
  return existsSync(join(MODEL, 'config.json'))
    ? null
    : new Error(
        `no model at ${MODEL}: make it with \`npm run models:real -- --only qwen2.5-0.5b\` (or set RXRL_REAL_MODEL)`,
      );
}

const PHASE_WHAT: Record<GrpoPhase, string> = {
  generation: 'sampling at temperature 1 with a KV cache',
  logprobs: 'π_ref log-probs, no gradient (KL 0.01)',
  loss_backward: 'forward, clipped PG loss + KL, backward',
  optimizer: 'gradient norm, clip to 1, AdamW',
};

/**
 * One GRPO step of the Qwen2.5-0.5B recipe at bench shapes, by phase: ours is
 * the GrpoTrainer's `trainStep` (tools/bench/real/grpoStep.ts, phases from its
 * `timing/…` metrics), PyTorch a plain implementation of the same step
 * (torch_real.py `grpo`). Per phase: ms, tokens/s, ratio; then the whole step.
 */
async function grpoRecords(ctx: BenchContext): Promise<BenchRecord[]> {
  const [prompts, generations, prompt] = [2, 4, 32];
  const newTokens = ctx.quick ? 8 : 32;
  const rows = prompts * generations;
  const spec = { mode: 'grpo', prompts, generations, prompt, new_tokens: newTokens, kl: 0.01, iters: 1 };
  const base = { backend: ctx.backend, preset: 'qwen2.5-0.5b', batch: rows, seqLen: prompt + newTokens };
  let ours: Measured<GrpoSide>;
  try {
    ours = await measure<GrpoSide>('rxrl', spec);
  } catch (err) {
    const e = err as Error & { signal?: string };
    const notes = `failed${e.signal ? ` (${e.signal}: killed, out of memory?)` : ''}: ${e.message.split('\n')[0]}`;
    console.log(`  real_grpo_step: ${notes}`);
    return [{ ...base, name: 'real_grpo_step', value: NaN, unit: 'tokens/s', notes }];
  }
  let torch: Measured<GrpoSide> | null = null;
  try {
    torch = await measure<GrpoSide>('pytorch', spec);
  } catch (err) {
    console.log(`  pytorch failed: ${(err as Error).message.split('\n')[0]}`);
  }
  // tokens each phase works on: generation samples rows × new tokens; the passes after it score rows × (prompt + new)
  const tokensOf = (p: GrpoPhase) => (p === 'generation' ? rows * newTokens : rows * (prompt + newTokens));
  const stepTokens = rows * (prompt + newTokens) + rows * newTokens;
  const ms = (s: number) => s * 1000;
  const records: BenchRecord[] = GRPO_PHASES.map((p) => {
    const [o, t] = [ours.phases[p], torch?.phases[p]];
    return {
      ...base,
      name: `real_grpo_step/${p}`,
      value: ms(o),
      unit: 'ms' as const,
      ...(t !== undefined ? { pytorch: ms(t), vsPytorch: t / o } : {}),
      notes:
        `${(tokensOf(p) / o).toFixed(1)} tokens/s` +
        (t !== undefined ? ` vs PyTorch ${(tokensOf(p) / t).toFixed(1)}` : '') +
        `; ${PHASE_WHAT[p]}; ${((100 * o) / ours.phases.total).toFixed(1)}% of our step`,
    };
  });
  const t = torch?.phases.total;
  records.push({
    ...base,
    name: 'real_grpo_step/total',
    value: ms(ours.phases.total),
    unit: 'ms',
    ...(t !== undefined ? { pytorch: ms(t), vsPytorch: t / ours.phases.total } : {}),
    notes:
      `${ms(ours.phases.other).toFixed(0)} ms outside the phases (reward, advantages, batch assembly); median of ${ours.steps} after 1 warm-up; ` +
      `${loadNote(ours)} (ours)` +
      (torch ? `, ${loadNote(torch)} (PyTorch, after ours)` : ''),
  });
  records.push({
    ...base,
    name: 'real_grpo_step',
    value: stepTokens / ours.phases.total,
    unit: 'tokens/s',
    ...(t !== undefined ? { pytorch: stepTokens / t, vsPytorch: t / ours.phases.total } : {}),
    notes:
      `(trained + generated tokens) / step; peak RSS ${gb(ours.peak_rss)}` +
      (torch ? ` vs PyTorch ${gb(torch.peak_rss)} (${(ours.peak_rss / torch.peak_rss).toFixed(2)}×)` : '') +
      estimateNote(ours) +
      `; ${prompts} prompts × ${generations}, prompt ${prompt}, ${newTokens} new tokens, full fine-tune, ours with activation checkpointing`,
  });
  if (torch) console.log(`\n  pytorch: ${torch.threads} threads, ${torch.blas}`);
  for (const r of records)
    console.log(
      `  ${r.name}: ${r.value.toFixed(1)} ${r.unit}` +
        (r.pytorch !== undefined ? ` vs PyTorch ${r.pytorch.toFixed(1)} (${r.vsPytorch!.toFixed(2)}×)` : '') +
        `; ${r.notes}`,
    );
  return records;
}

/** Real-size GRPO step only (opt-in: `npm run bench -- --only real_grpo`); `--only real` runs it too. */
export const realGrpoCase: BenchCase = {
  name: 'real_grpo',
  optIn: true,
  async run(ctx) {
    const missing = modelMissing();
    if (missing) throw missing;
    return grpoRecords(ctx);
  },
};

/**
 * Real size (opt-in: `npm run bench -- --only real`): on the Qwen2.5-0.5B
 * layout, each measurement in its own process on our native backend and in
 * PyTorch (same files, float32, every core), one after the other: cached
 * greedy generation at batch 1 and 8, a full fine-tune step (forward,
 * token NLL, backward, AdamW) at sequence 512, its LoRA variant, and one GRPO
 * step by phase. Records tokens/s, the ratio, both sides' peak RSS and our
 * memory estimate.
 */
export const realCase: BenchCase = {
  name: 'real',
  optIn: true,
  async run(ctx) {
    const missing = modelMissing();
    if (missing) throw missing;
    const records = await runSpecs(ctx, specsFor(ctx));
    records.push(...(await grpoRecords(ctx)));
    return records;
  },
};

/**
 * The two generation rows of `real` only (opt-in: `npm run bench -- --only
 * real_generate`): decoding re-measured without the training steps.
 */
export const realGenerateCase: BenchCase = {
  name: 'real_generate',
  optIn: true,
  async run(ctx) {
    const missing = modelMissing();
    if (missing) throw missing;
    return runSpecs(
      ctx,
      specsFor(ctx).filter((s) => s.name === 'real_generate'),
    );
  },
};

interface RealSpec {
  name: string;
  spec: Record<string, unknown>;
  batch: number;
  seqLen: number;
}

function specsFor(ctx: BenchContext): RealSpec[] {
  const newTokens = ctx.quick ? 8 : 32;
  return [
    ...[1, 8].map((batch) => ({
      name: 'real_generate',
      batch,
      seqLen: 32 + newTokens,
      spec: { mode: 'generate', batch, prompt: 32, new_tokens: newTokens, iters: ctx.quick ? 1 : 2 },
    })),
    {
      name: 'real_sft_step',
      batch: 1,
      seqLen: ctx.quick ? 128 : 512,
      // `auto`, rxrl's default: keep activations as PyTorch does when the estimate fits 80%
      // of RAM (13.75 GiB of 23.5 on the bench machine), else recompute them per layer
      spec: {
        mode: 'train',
        batch: 1,
        seq: ctx.quick ? 128 : 512,
        iters: 1,
        checkpointing: 'auto',
      },
    },
    {
      // the same step training LoRA adapters only (r 16 on every linear layer, the
      // frozen base held once); the PyTorch side is its full fine-tune, as above
      name: 'real_sft_step_lora',
      batch: 1,
      seqLen: ctx.quick ? 128 : 512,
      spec: {
        mode: 'train',
        batch: 1,
        seq: ctx.quick ? 128 : 512,
        iters: 1,
        checkpointing: 'auto',
        lora: { r: 16, lora_alpha: 32, target_modules: 'all-linear' },
      },
    },
  ];
}

async function runSpecs(ctx: BenchContext, specs: RealSpec[]): Promise<BenchRecord[]> {
  const newTokens = ctx.quick ? 8 : 32;
  const records: BenchRecord[] = [];
  // the LoRA row compares with the full fine-tune PyTorch already measured
  const torchRuns = new Map<string, Measured<Side>>();
  for (const s of specs) {
    let ours: Measured<Side>;
    try {
      ours = await measure('rxrl', s.spec);
    } catch (err) {
      const e = err as Error & { signal?: string };
      records.push({
        name: s.name,
        backend: ctx.backend,
        preset: 'qwen2.5-0.5b',
        batch: s.batch,
        seqLen: s.seqLen,
        value: NaN,
        unit: 'tokens/s',
        notes: `failed${e.signal ? ` (${e.signal}: killed, out of memory?)` : ''}: ${e.message.split('\n')[0]}`,
      });
      console.log(`  ${s.name} b${s.batch}: ${records.at(-1)!.notes}`);
      continue;
    }
    const torchKey = JSON.stringify({ ...s.spec, lora: undefined });
    let torch: Measured<Side> | null = torchRuns.get(torchKey) ?? null;
    try {
      torch ??= await measure<Side>('pytorch', s.spec);
      torchRuns.set(torchKey, torch);
    } catch (err) {
      console.log(`  pytorch failed: ${(err as Error).message.split('\n')[0]}`);
    }
    records.push({
      name: s.name,
      backend: ctx.backend,
      preset: 'qwen2.5-0.5b',
      batch: s.batch,
      seqLen: s.seqLen,
      value: ours.tokens_per_s,
      unit: 'tokens/s',
      ...(torch
        ? { pytorch: torch.tokens_per_s, vsPytorch: ours.tokens_per_s / torch.tokens_per_s }
        : {}),
      notes:
        `peak RSS ${gb(ours.peak_rss)}` +
        (torch
          ? ` vs PyTorch ${gb(torch.peak_rss)} (${(ours.peak_rss / torch.peak_rss).toFixed(2)}×)`
          : '') +
        estimateNote(ours) +
        `; ${s.spec['mode'] === 'generate' ? `greedy, prompt 32, ${newTokens} new tokens` : s.spec['lora'] ? `LoRA r 16 all-linear (${((ours.trainable ?? 0) / 1e6).toFixed(1)}M trainable) vs PyTorch full fine-tune` : 'full fine-tune: forward, NLL, backward, AdamW'}${ours.checkpointing !== undefined ? `; ours ${ours.checkpointing ? 'recomputes activations per layer' : 'keeps activations'} (activation_checkpointing auto), PyTorch keeps them` : ''}; ${loadNote(ours)}` +
        (torch ? `, PyTorch ${loadNote(torch)}` : ''),
    });
    if (torch && records.length === 1)
      console.log(`\n  pytorch: ${torch.threads} threads, ${torch.blas}`);
    console.log(
      `  ${s.name} b${s.batch}: ${ours.tokens_per_s.toFixed(2)} tok/s` +
        (torch ? ` vs PyTorch ${torch.tokens_per_s.toFixed(2)} (${(ours.tokens_per_s / torch.tokens_per_s).toFixed(2)}×)` : '') +
        `; ${records.at(-1)!.notes}`,
    );
  }
  return records;
}

