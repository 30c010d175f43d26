import * as tf from '@tensorflow/tfjs-core';
import type { Preset } from '@rxrl/model';
import { timeIt, type BenchCase, type BenchRecord } from '../benchCase';
import {
  BENCH_SHAPE,
  BENCH_VOCAB,
  QUICK_SHAPE,
  benchConfig,
  benchModel,
  tokenBatch,
} from '../benchModel';
import { trainStepFlops } from '../flops';
import { stepTimes } from '../stepTimes';
import { benchOptimizer, trainStep, type TrainStepRig } from '../trainStep';

/** Builds a model, optimizer and batch for `preset` at `batch × seq`. */
export function trainRig(preset: Preset, batch: number, seq: number): TrainStepRig {
  const model = benchModel(preset);
  const optimizer = benchOptimizer(model);
  const ids = tokenBatch(batch, seq, BENCH_VOCAB, 1);
  const targets = tokenBatch(batch, seq, BENCH_VOCAB, 2);
  return {
    model,
    optimizer,
    ids,
    targets,
    dispose() {
      optimizer.dispose();
      model.dispose();
      ids.dispose();
      targets.dispose();
    },
  };
}

/**
 * Training-step throughput (forward + token log-prob NLL + backward + AdamW)
 * of the llama `tiny` and `small` presets, with the achieved FLOP rate
 * (see flops.ts) as a fraction of the run's plain matMul peak.
 */
export const trainStepCase: BenchCase = {
  name: 'train_step',
  async run(ctx) {
    const { batch, seq } = ctx.quick ? QUICK_SHAPE : BENCH_SHAPE;
    const out: BenchRecord[] = [];
    for (const preset of ['tiny', 'small'] as const) {
      const rig = trainRig(preset, batch, seq);
      await trainStep(rig); // creates the AdamW moments
      const before = tf.memory().numTensors;
      const ms = await timeIt(() => trainStep(rig), ctx.quick ? 2 : 5, 1);
      const leaked = tf.memory().numTensors - before;
      rig.dispose();
      if (leaked !== 0) throw new Error(`train_step ${preset}: ${leaked} tensors leaked per run`);
      stepTimes.set(preset, { ms, batch, seq });
      const gflops = trainStepFlops(benchConfig(preset), batch, seq) / (ms * 1e6);
      out.push({
        name: 'train_step',
        backend: ctx.backend,
        preset,
        batch,
        seqLen: seq,
        value: (batch * seq) / (ms / 1000),
        unit: 'tokens/s',
        fractionOfPeak: gflops / ctx.peakGflops,
        torch: { mode: 'train', preset, vocab: BENCH_VOCAB, batch, seq },
        notes: `${ms.toFixed(0)} ms/step, ${gflops.toFixed(1)} GFLOP/s`,
      });
    }
    return out;
  },
};
