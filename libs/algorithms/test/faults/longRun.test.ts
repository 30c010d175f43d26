// Long run (opt-in: RXRL_SLOW_TESTS=1): 1,000 SFT training steps of the tiny preset keep
// tf.memory().numTensors flat and the process RSS bounded.
import * as tf from '@tensorflow/tfjs-core';
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
  it(`${STEPS} steps of the tiny preset: numTensors flat, RSS growth < 50 MB after warm-up`, () => {
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
    let maxTensors = 0;
    let step = 0;
    const started = performance.now();
    outer: for (let epoch = 0; ; epoch++) {
      for (const batch of trainer.sampler.batches(epoch, 0)) {
        step++;
        const m = trainer.trainStep(batch, step).metrics;
        expect(Number.isFinite(m['train/loss'])).toBe(true);
        if (step === WARMUP) {
          tensorsAfterWarmup = tf.memory().numTensors;
          rssAfterWarmup = process.memoryUsage().rss;
        }
        if (step > WARMUP) maxTensors = Math.max(maxTensors, tf.memory().numTensors);
        if (step === STEPS) break outer;
      }
    }
    const growthMb = (process.memoryUsage().rss - rssAfterWarmup) / 2 ** 20;
    console.log(
      `long run: ${STEPS} steps in ${((performance.now() - started) / 1000).toFixed(1)} s; numTensors ${tensorsAfterWarmup} after warm-up, max ${maxTensors}; RSS growth ${growthMb.toFixed(1)} MB`,
    );
    expect(maxTensors).toBe(tensorsAfterWarmup);
    expect(growthMb).toBeLessThan(50);
    optimizer.dispose();
    model.dispose();
  });
});
