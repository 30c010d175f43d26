// Long run (opt-in: RXRL_SLOW_TESTS=1): 1,000 SFT training steps of the tiny preset keep
// tf.memory().numTensors, the wasm memory and the JS heap after a full GC flat, and the
// process RSS bounded. RSS alone is a poor leak signal: between collections V8's heap
// swings by 50-100 MB on this workload (more garbage per second as steps got faster).
import * as tf from '@tensorflow/tfjs-core';
import type { RecordBatch } from 'apache-arrow';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@rxrl/core';
import { ArithmeticTask, BuiltinTokenizer } from '@rxrl/data';
import { CausalLM, presetConfig } from '@rxrl/model';
import { AdamW } from '@rxrl/optimizer';
import { sftExamples } from '../../src/sft/sftExamples';
import { sftDataSchema, sftSchema } from '../../src/sft/sftOptions';
import { SftTrainer } from '../../src/sft/sftTrainer';

const STEPS = 1000;
const WARMUP = 50;

beforeAll(async () => {
  await useBackend('wasm');
});

describe.skipIf(!process.env['RXRL_SLOW_TESTS'])('long run', () => {
  it(`${STEPS} steps of the tiny preset: numTensors, wasm memory and collected heap flat; RSS bounded`, async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc)
      throw new Error('run with node --expose-gc (libs/algorithms/vitest.config.ts sets it)');
    const wasmBytes = () =>
      (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm?.HEAPU8.length ?? 0;
    const tok = new BuiltinTokenizer();
    const data = sftDataSchema.parse({ loss_mask: 'completion_only' });
    const task = new ArithmeticTask({ operators: ['+', '-'], max_digits: 2, seed: 4 });
    const train = sftExamples(tok, task.sftRows('train', 256), data, 32).examples;
    const model = CausalLM.create(
      { ...presetConfig('llama', 'tiny', tok.vocabSize), maxPositionEmbeddings: 32 },
      { seed: 1 },
    );
    const optimizer = new AdamW(Object.fromEntries(model.trainableVariables()), { lr: 1e-3 });
    const trainer = new SftTrainer({
      model,
      tokenizer: tok,
      optimizer,
      policy: { train_global_batch_size: 8, train_micro_batch_size: 4, max_grad_norm: 1 },
      sft: sftSchema.parse({}),
      train,
      val: [],
      seed: 0,
    });
    let tensorsAfterWarmup = 0;
    let rssAfterWarmup = 0;
    let heapAfterWarmup = 0;
    let wasmAfterWarmup = 0;
    let maxTensors = 0;
    let step = 0;
    const started = performance.now();
    outer: for (let epoch = 0; ; epoch++) {
      for (const batch of trainer.sampler.batches(epoch, 0) as Iterable<RecordBatch>) {
        step++;
        const m = (await trainer.trainStep(batch, step)).metrics;
        expect(Number.isFinite(m['train/loss'])).toBe(true);
        if (step === WARMUP) {
          gc();
          tensorsAfterWarmup = tf.memory().numTensors;
          rssAfterWarmup = process.memoryUsage().rss;
          heapAfterWarmup = process.memoryUsage().heapUsed;
          wasmAfterWarmup = wasmBytes();
        }
        if (step > WARMUP) maxTensors = Math.max(maxTensors, tf.memory().numTensors);
        if (step === STEPS) break outer;
      }
    }
    gc();
    const mb = (bytes: number) => bytes / 2 ** 20;
    const growthMb = mb(process.memoryUsage().rss - rssAfterWarmup);
    const heapGrowthMb = mb(process.memoryUsage().heapUsed - heapAfterWarmup);
    console.log(
      `long run: ${STEPS} steps in ${((performance.now() - started) / 1000).toFixed(1)} s; numTensors ${tensorsAfterWarmup} after warm-up, max ${maxTensors}; heap after GC ${heapGrowthMb.toFixed(1)} MB, wasm memory ${mb(wasmAfterWarmup).toFixed(0)} -> ${mb(wasmBytes()).toFixed(0)} MB, RSS ${growthMb.toFixed(1)} MB`,
    );
    expect(maxTensors).toBe(tensorsAfterWarmup);
    expect(wasmBytes()).toBe(wasmAfterWarmup);
    expect(heapGrowthMb).toBeLessThan(5);
    expect(growthMb).toBeLessThan(100);
    optimizer.dispose();
    model.dispose();
  });
});
