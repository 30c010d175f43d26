import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BenchCase, BenchRecord } from '../benchCase';

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
}

/** One measurement in a child process of its own, so its peak RSS is its own. */
async function measure(side: 'rxrl' | 'pytorch', spec: object): Promise<Side> {
  const [cmd, args] =
    side === 'rxrl'
      ? [process.execPath, ['--import', 'tsx', join(ROOT, 'tools/bench/real/ours.ts')]]
      : ['/usr/bin/python3', [join(ROOT, 'tools/bench/real/torch_real.py')]];
  const { stdout } = await run(cmd, [...args, MODEL, JSON.stringify(spec)], {
    cwd: ROOT,
    maxBuffer: 1 << 24,
    timeout: 1_800_000,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!) as Side;
}

/**
 * Real size (opt-in: `npm run bench -- --only real`): on the Qwen2.5-0.5B
 * layout, each measurement in its own process on our native backend and in
 * PyTorch (same files, float32, every core), one after the other: cached
 * greedy generation at batch 1 and 8, and a full fine-tune step (forward,
 * token NLL, backward, AdamW) at sequence 512. Records tokens/s, the ratio,
 * and both sides' peak RSS.
 */
export const realCase: BenchCase = {
  name: 'real',
  optIn: true,
  async run(ctx) {
    if (!existsSync(join(MODEL, 'config.json')))
      throw new Error(
        `no model at ${MODEL}: make it with \`npm run models:real -- --only qwen2.5-0.5b\` (or set RXRL_REAL_MODEL)`,
      );
    const newTokens = ctx.quick ? 8 : 32;
    const specs: { name: string; spec: Record<string, unknown>; batch: number; seqLen: number }[] = [
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
        // ours recomputes activations per layer: without it the estimate is 22.8 GB and the
        // step was OOM-killed on the 24 GB machine (PyTorch keeps its activations)
        spec: {
          mode: 'train',
          batch: 1,
          seq: ctx.quick ? 128 : 512,
          iters: 1,
          checkpointing: true,
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
          checkpointing: true,
          lora: { r: 16, lora_alpha: 32, target_modules: 'all-linear' },
        },
      },
    ];
    const records: BenchRecord[] = [];
    // the LoRA row compares with the full fine-tune PyTorch already measured
    const torchRuns = new Map<string, Side>();
    for (const s of specs) {
      let ours: Side;
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
      let torch: Side | null = torchRuns.get(torchKey) ?? null;
      try {
        torch ??= await measure('pytorch', s.spec);
        torchRuns.set(torchKey, torch);
      } catch (err) {
        console.log(`  pytorch failed: ${(err as Error).message.split('\n')[0]}`);
      }
      const gb = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
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
          `; ${s.spec['mode'] === 'generate' ? `greedy, prompt 32, ${newTokens} new tokens` : s.spec['lora'] ? `LoRA r 16 all-linear (${((ours.trainable ?? 0) / 1e6).toFixed(1)}M trainable) vs PyTorch full fine-tune` : 'full fine-tune: forward, NLL, backward, AdamW'}`,
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
  },
};
