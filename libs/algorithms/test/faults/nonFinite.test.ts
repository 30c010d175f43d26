// Numerical faults: a NaN/Inf loss or gradient is caught before the optimizer step,
// and the runner applies policy.on_nonfinite (skip_step or stop) at the step where it appears.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { RecordBatch } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@rxrl/core';
import { ArithmeticTask, BuiltinTokenizer } from '@rxrl/data';
import { CausalLM, presetConfig } from '@rxrl/model';
import { AdamW } from '@rxrl/optimizer';
import { NonFiniteError, runTraining, stateFileBytes, type StateFiles } from '@rxrl/pipeline';
import { accumulatedStep } from '../../src/shared/accumulatedStep';
import { savePolicyState } from '../../src/shared/policyState';
import { sftExamples } from '../../src/sft/sftExamples';
import { sftDataSchema, sftSchema } from '../../src/sft/sftOptions';
import { SftTrainer } from '../../src/sft/sftTrainer';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-nonfinite-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const tok = new BuiltinTokenizer();
const tinyConfig = () => ({
  ...presetConfig('llama', 'tiny', tok.vocabSize),
  hiddenSize: 16,
  intermediateSize: 32,
  numLayers: 1,
  numHeads: 2,
  numKvHeads: 2,
  headDim: 8,
  maxPositionEmbeddings: 32,
});
const data = sftDataSchema.parse({ loss_mask: 'completion_only' });
const sft = sftSchema.parse({ val_generation: { num_prompts: 0, max_new_tokens: 1 } });
const task = new ArithmeticTask({ operators: ['+'], max_digits: 1, seed: 1 });
const clean = () => sftExamples(tok, task.sftRows('train', 16), data, 32).examples;
/** 16 examples, batches of 4 in order: example 8 (weight NaN) poisons the loss of step 3 only */
const poisoned = () => clean().map((e, i) => (i === 8 ? { ...e, weight: NaN } : e));

function setup(train = poisoned()) {
  const model = CausalLM.create(tinyConfig(), { seed: 2 });
  const optimizer = new AdamW(Object.fromEntries(model.trainableVariables()), { lr: 1e-2 });
  const trainer = new SftTrainer({
    model,
    tokenizer: tok,
    optimizer,
    policy: { train_global_batch_size: 4, train_micro_batch_size: 2, max_grad_norm: 1 },
    sft,
    train,
    val: [],
    seed: 0,
    shuffle: false,
  });
  return { model, optimizer, trainer };
}

const bytes = (files: StateFiles) =>
  Object.fromEntries(
    Object.entries(stateFileBytes(files)).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  );

function readMetrics(runDir: string): Record<string, number>[] {
  return fs
    .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, number>);
}

beforeAll(async () => {
  await useBackend('wasm');
});

describe('non-finite detection before the update', () => {
  it('a poisoned batch (NaN sample weight) throws NonFiniteError(loss) and leaves weights and AdamW state untouched', async () => {
    const { model, optimizer, trainer } = setup();
    await trainer.trainStep([0, 1, 2, 3], 1); // a good step first, so the Adam moments are non-zero
    const before = bytes(savePolicyState(model, optimizer));
    const tensors = tf.memory().numTensors;
    let caught: unknown;
    try {
      await trainer.trainStep([8, 9, 10, 11], 2);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(NonFiniteError);
    expect((caught as NonFiniteError).metric).toBe('loss');
    expect(Number.isNaN((caught as NonFiniteError).value)).toBe(true);
    expect(bytes(savePolicyState(model, optimizer))).toEqual(before);
    expect(tf.memory().numTensors).toBe(tensors); // the dropped gradients were freed
    optimizer.dispose();
    model.dispose();
  });

  it('a finite loss with a NaN gradient throws NonFiniteError(grad_norm) before the step', () => {
    const model = CausalLM.create(tinyConfig(), { seed: 2 });
    const optimizer = new AdamW(Object.fromEntries(model.trainableVariables()), { lr: 1e-2 });
    const vars = [...model.trainableVariables()].map(([, v]) => v);
    const before = bytes(savePolicyState(model, optimizer));
    const tensors = tf.memory().numTensors;
    // sqrt(v - v) is 0, but its gradient is Inf·1 + Inf·(-1) = NaN
    const loss = () => {
      const l = tf.addN(vars.map((v) => tf.sum(tf.sqrt(tf.sub(v, v))))) as tf.Scalar;
      return { loss: l, metrics: { loss: l.clone() } };
    };
    expect(() =>
      accumulatedStep({ model, optimizer, microBatches: [0], loss, maxGradNorm: null }),
    ).toThrow(
      /^non-finite grad_norm \(NaN\); the update was not applied; the forward pass and the loss are finite; the backward pass is not: non-finite gradients in embed_tokens, layers\.0, norm, lm_head$/,
    );
    expect(() =>
      accumulatedStep({ model, optimizer, microBatches: [0], loss, maxGradNorm: 1 }),
    ).toThrow(NonFiniteError);
    expect(bytes(savePolicyState(model, optimizer))).toEqual(before);
    expect(tf.memory().numTensors).toBe(tensors);
    optimizer.dispose();
    model.dispose();
  });
});

describe('policy.on_nonfinite through the runner', () => {
  it('skip_step: step 3 is logged as train/nonfinite/loss, the run goes on and weights equal a run that never saw batch 3', async () => {
    const { model, optimizer, trainer } = setup();
    const lines: string[] = [];
    const runDir = path.join(tmp, 'skip');
    const r = await runTraining({
      runDir,
      algorithm: trainer,
      data: trainer.sampler,
      loop: { max_num_steps: 4, on_nonfinite: 'skip_step' },
      checkpointing: { enabled: false },
      progress: false,
      tensorboard: false,
      report: false,
      log: (l) => lines.push(l),
    });
    expect(r.step).toBe(4);
    const rows = readMetrics(runDir);
    expect(rows.map((m) => m['step'])).toEqual([1, 2, 3, 4]);
    expect(rows[2]!['train/nonfinite/loss']).toBe(1);
    expect(rows[2]!['train/loss']).toBeUndefined();
    for (const i of [0, 1, 3]) expect(Number.isFinite(rows[i]!['train/loss'])).toBe(true);
    expect(lines).toContain(
      // the NaN sample weight: activations finite, the loss terms that read the weights are not
      "rxrl: non-finite loss (NaN) at step 3; the update was not applied; first non-finite value: micro-batch 0, the model's activations and log-probs are finite; the loss is not (loss, num_unmasked_tokens, num_valid_samples); skipped (policy.on_nonfinite: skip_step)",
    );
    // reference: the same three good batches applied directly, in order, batch 3 never applied
    const ref = setup();
    await ref.trainer.trainStep([0, 1, 2, 3], 1);
    await ref.trainer.trainStep([4, 5, 6, 7], 2);
    await ref.trainer.trainStep([12, 13, 14, 15], 4);
    expect(bytes(savePolicyState(model, optimizer))).toEqual(
      bytes(savePolicyState(ref.model, ref.optimizer)),
    );
    for (const s of [{ model, optimizer }, ref]) {
      s.optimizer.dispose();
      s.model.dispose();
    }
  });

  it('stop: fails with NonFiniteError at step 3, leaves the step-2 checkpoint, and a resume with clean data continues from it', async () => {
    const runDir = path.join(tmp, 'stop');
    const a = setup();
    const lines: string[] = [];
    const run = (t: SftTrainer) =>
      runTraining({
        runDir,
        algorithm: t,
        data: t.sampler,
        loop: { max_num_steps: 4 },
        checkpointing: { enabled: true, save_period: 100 },
        progress: false,
        tensorboard: false,
        report: false,
        log: (l) => lines.push(l),
      });
    const err = await run(a.trainer).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonFiniteError);
    expect((err as NonFiniteError).step).toBe(3);
    expect((err as NonFiniteError).message).toBe(
      "non-finite loss (NaN) at step 3; the update was not applied; first non-finite value: micro-batch 0, the model's activations and log-probs are finite; the loss is not (loss, num_unmasked_tokens, num_valid_samples)",
    );
    expect(
      fs.readdirSync(path.join(runDir, 'checkpoints')).filter((d) => d.startsWith('step_')),
    ).toEqual(['step_00000002']);
    expect(readMetrics(runDir).map((m) => m['step'])).toEqual([1, 2]);
    const atStop = bytes(savePolicyState(a.model, a.optimizer));

    // the fix (clean data) and a resume: it loads exactly the last good state
    const b = setup(clean());
    const loaded: Record<string, string>[] = [];
    const algorithm = {
      trainStep: (batch: RecordBatch, step: number) => {
        if (step === 3) loaded.push(bytes(savePolicyState(b.model, b.optimizer)));
        return b.trainer.trainStep(batch, step);
      },
      saveState: () => b.trainer.saveState(),
      loadState: (f: Record<string, Uint8Array>) => b.trainer.loadState(f),
    };
    const r = await runTraining({
      runDir,
      algorithm,
      data: b.trainer.sampler,
      loop: { max_num_steps: 4 },
      checkpointing: { enabled: true, save_period: 100 },
      progress: false,
      tensorboard: false,
      report: false,
    });
    expect(r.resumedFrom).toBe(2);
    expect(r.step).toBe(4);
    expect(loaded[0]).toEqual(atStop);
    expect(readMetrics(runDir).map((m) => m['step'])).toEqual([1, 2, 3, 4]);
    for (const s of [a, b]) {
      s.optimizer.dispose();
      s.model.dispose();
    }
  });
});
