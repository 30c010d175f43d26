import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng, useBackend } from '@rxrl/core';
import { CausalLM, presetConfig, type HostTensor } from '@rxrl/model';
import { AdamW, clipByGlobalNorm } from '@rxrl/optimizer';
import { DataParallelTrainer } from './dataParallelTrainer';
import { sftNllLoss, sftTrainBatch } from './sftNllLoss';
import type { TrainBatch } from './trainBatch';

const VOCAB = 48;
const cfg = presetConfig('llama', 'tiny', VOCAB);
const SEED = 3;
// eps 1e-4, not torch's 1e-8: Adam's first step moves a weight by lr·g/(|g|+eps), so with a tiny
// eps a gradient element near 0 turns a float32 rounding difference (a matMul kernel summing in
// another order for another shard shape) into a jump of up to lr; with 1e-4 the weights check
// measures the gradient sum, not that amplification. The summed gradient is also checked directly.
const OPT = { lr: 1e-2, weight_decay: 0.01, eps: 1e-4 };
const MAX_NORM = 0.5;

/** `rows` left-padded sequences of length T with a partial loss mask. */
function makeBatch(rows: number, T: number, salt: number): TrainBatch {
  const rng = new Rng(salt);
  const inputIds = new Int32Array(rows * T);
  const targets = new Int32Array(rows * T);
  const tokenMask = new Float32Array(rows * T);
  const attentionMask = new Int32Array(rows * T);
  for (let r = 0; r < rows; r++) {
    const pad = r % 3;
    for (let t = 0; t < T; t++) {
      const i = r * T + t;
      inputIds[i] = rng.int(VOCAB);
      targets[i] = rng.int(VOCAB);
      attentionMask[i] = t >= pad ? 1 : 0;
      tokenMask[i] = t >= pad + 1 ? 1 : 0;
    }
  }
  return sftTrainBatch({ rows, inputIds, targets, tokenMask, attentionMask });
}

/** Single-process reference: full-batch loss, clip, AdamW — `batches.length` steps. */
function referenceRun(batches: TrainBatch[]): {
  losses: number[];
  norms: number[];
  weights: Map<string, HostTensor>;
} {
  const model = CausalLM.create(cfg, { seed: SEED });
  const opt = new AdamW(Object.fromEntries(model.trainableVariables()), OPT);
  const losses: number[] = [];
  const norms: number[] = [];
  for (const b of batches) {
    const { value, grads } = model.variableGrads(() => sftNllLoss(model, b));
    losses.push(value.dataSync()[0]!);
    const clipped = clipByGlobalNorm(Object.fromEntries(grads), MAX_NORM);
    norms.push(clipped.gradNorm);
    opt.step(clipped.grads);
    tf.dispose([value, ...grads.values(), ...Object.values(clipped.grads)]);
  }
  const weights = model.exportHfWeights();
  opt.dispose();
  model.dispose();
  return { losses, norms, weights };
}

function maxAbsDiff(a: Map<string, HostTensor>, b: Map<string, HostTensor>): number {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  let m = 0;
  for (const [name, t] of a) {
    const u = b.get(name)!.data;
    for (let i = 0; i < t.data.length; i++) m = Math.max(m, Math.abs(t.data[i]! - u[i]!));
  }
  return m;
}

// 5 rows over 2 workers: shards of 2 and 3 rows, micro-batches of 2 → accumulation inside a worker too.
const batches = [makeBatch(5, 8, 1), makeBatch(5, 8, 2), makeBatch(5, 8, 3), makeBatch(5, 8, 4)];
let reference: ReturnType<typeof referenceRun>;
let initial: Map<string, HostTensor>;

beforeAll(async () => {
  await useBackend('wasm');
  reference = referenceRun(batches);
  const m = CausalLM.create(cfg, { seed: SEED });
  initial = m.exportHfWeights();
  m.dispose();
});

const FAILING_LOSS = {
  step_module: new URL('./testing/failingLoss.ts', import.meta.url).href,
  step_export: 'failingLoss',
};

/** Counts 'exit' events of the trainer's threads (reaches into the private slots on purpose). */
function countExits(trainer: DataParallelTrainer): { exits: number } {
  const c = { exits: 0 };
  for (const s of (
    trainer as unknown as { slots: { worker: import('node:worker_threads').Worker }[] }
  ).slots)
    s.worker.on('exit', () => c.exits++);
  return c;
}

for (const sync of [
  'replicated_optimizer',
  'sharded_optimizer',
  'sharded_flat',
  'broadcast_weights',
] as const) {
  describe(`DataParallelTrainer (${sync}, 2 workers, wasm)`, () => {
    let trainer: DataParallelTrainer;
    let live: number;
    beforeAll(async () => {
      live = DataParallelTrainer.liveWorkers;
      // failingLoss is sftNllLoss unless a batch asks it to throw (the last test here)
      trainer = await DataParallelTrainer.create(
        cfg,
        { seed: SEED },
        {
          num_workers: 2,
          sync,
          optimizer: OPT,
          max_grad_norm: MAX_NORM,
          train_micro_batch_size: 2,
          ...FAILING_LOSS,
        },
      );
      expect(DataParallelTrainer.liveWorkers).toBe(live + 2);
    });
    afterAll(async () => {
      await trainer?.dispose();
    });

    it('one step equals a single-process full-batch step (loss, grad norm, summed gradient, updated weights within 1e-5)', async () => {
      const r = await trainer.step(batches[0]!);
      // the all-reduced gradient in shared memory against the full-batch gradient
      const sum = (trainer as unknown as { regions: { sum: Float32Array } }).regions.sum;
      const m = CausalLM.create(cfg, { seed: SEED });
      const { value, grads } = m.variableGrads(() => sftNllLoss(m, batches[0]!));
      let maxG = 0;
      let maxD = 0;
      for (const slot of trainer.layout.slots) {
        const g = grads.get(slot.name)!.dataSync();
        for (let i = 0; i < slot.size; i++) {
          maxG = Math.max(maxG, Math.abs(g[i]!));
          maxD = Math.max(maxD, Math.abs(g[i]! - sum[slot.offset + i]!));
        }
      }
      tf.dispose([value, ...grads.values()]);
      m.dispose();
      expect(maxG).toBeGreaterThan(1e-2);
      expect(maxD).toBeLessThan(1e-5 * maxG);
      expect(Math.abs(r.loss - reference.losses[0]!)).toBeLessThan(1e-5);
      expect(reference.norms[0]!).toBeGreaterThan(MAX_NORM); // clipping is exercised
      expect(Math.abs(r.gradNorm - reference.norms[0]!) / reference.norms[0]!).toBeLessThan(1e-5);
      const w = await trainer.exportHfWeights();
      // the step moved the weights far more than the tolerance, so equality is not vacuous
      expect(maxAbsDiff(w, initial)).toBeGreaterThan(1e-3);
      const ref1 = referenceRun(batches.slice(0, 1)).weights;
      expect(maxAbsDiff(w, ref1)).toBeLessThan(1e-5);
    });

    it('replicas stay identical over several steps, track the reference, and the main thread leaks no tensors', async () => {
      const before = tf.memory().numTensors;
      let workerTensors: number[] | undefined;
      for (let i = 1; i < batches.length; i++) {
        const r = await trainer.step(batches[i]!);
        expect(Math.abs(r.loss - reference.losses[i]!)).toBeLessThan(1e-5);
        expect(tf.memory().numTensors).toBe(before);
        // the replicas' own tensor counts stay flat too (model + optimizer state only)
        expect(r.workerTensors).toHaveLength(2);
        if (workerTensors) expect(r.workerTensors).toEqual(workerTensors);
        workerTensors = r.workerTensors;
      }
      const w0 = await trainer.replicaWeights(0);
      const w1 = await trainer.replicaWeights(1);
      expect(maxAbsDiff(w0, w1)).toBe(0);
      expect(maxAbsDiff(w0, reference.weights)).toBeLessThan(1e-4);
    });

    if (sync === 'replicated_optimizer') {
      it('a worker that throws rejects the step with its error after every worker is terminated', async () => {
        const c = countExits(trainer);
        const ok = makeBatch(3, 6, 9); // shards of 1 and 2 rows
        const bad: TrainBatch = { ...ok, globals: { ...ok.globals, fail_on_rows: 2 } };
        await expect(trainer.step(bad)).rejects.toThrow(
          /worker 1 failed .*failingLoss.*injected failure on a shard of 2 rows/,
        );
        expect(c.exits).toBe(2);
        expect(DataParallelTrainer.liveWorkers).toBe(live);
        await expect(trainer.step(ok)).rejects.toThrow(/injected failure/);
      });
    } else if (sync === 'broadcast_weights') {
      it('dispose terminates every worker and later calls fail clearly', async () => {
        const c = countExits(trainer);
        await trainer.dispose();
        expect(c.exits).toBe(2);
        expect(DataParallelTrainer.liveWorkers).toBe(live);
        await expect(trainer.step(batches[0]!)).rejects.toThrow(/disposed/);
      });
    }
  });
}

describe('DataParallelTrainer start-up errors', () => {
  it('a missing step export fails create with a clear error and leaves no worker', async () => {
    const live = DataParallelTrainer.liveWorkers;
    await expect(
      DataParallelTrainer.create(
        cfg,
        { seed: SEED },
        { num_workers: 1, step_export: 'noSuchLoss' },
      ),
    ).rejects.toThrow(
      /worker 0 could not start .*sftNllLoss.ts#noSuchLoss.*no exported function 'noSuchLoss'/,
    );
    expect(DataParallelTrainer.liveWorkers).toBe(live);
    await expect(
      DataParallelTrainer.create(cfg, { seed: SEED }, { num_workers: 0 }),
    ).rejects.toThrow(/option 'num_workers'/);
  });
});
