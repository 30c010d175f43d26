import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { catchError, map, of } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { RecordBatch } from 'apache-arrow';
import { useBackend } from '@rxrl/core';
import { nllLoss } from '@rxrl/loss';
import { readListColumn, withBatchMeta, type Stage, type StageDefinition } from '@rxrl/core/base';
import { ArithmeticTask, BuiltinTokenizer } from '@rxrl/data';
import { CausalLM, presetConfig } from '@rxrl/model';
import { SGD } from '@rxrl/optimizer';
import { NonFiniteError, pipe } from '@rxrl/pipeline';
import { preferenceBatch, pairBatchArrays, pairTokenLogps } from '../dpo/pairBatch';
import { preferencePairs } from '../dpo/dpoExamples';
import { dpoDataSchema } from '../dpo/dpoOptions';
import { REFERENCE_CHOSEN_LOGPS, referenceLogprobsStage } from '../dpo/referenceLogprobs';
import { sftBatch } from '../sft/sftBatch';
import { sftExamples } from '../sft/sftExamples';
import { nllLossStage, sftLossStage, sftMicroBatchLoss, weightedTokens } from '../sft/sftLoss';
import { sftDataSchema } from '../sft/sftOptions';
import { clippedPgLossStage, updateBatch } from '../grpo/clippedPgLossStage';
import { accumulatedStep, PendingUpdate } from './accumulatedStep';
import { microBatches } from './microBatches';
import { optimizerStepStage } from './optimizerStepStage';

// Marble diagrams of the training stages (loss.*, policy.reference_logprobs,
// optimizer.step) on a tiny model: one update per batch, in order, at the time
// the batch arrives; a non-finite update errors the stream; completion follows the source.
const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

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
const task = new ArithmeticTask({ operators: ['+'], max_digits: 1, seed: 1 });
const examples = sftExamples(
  tok,
  task.sftRows('train', 12),
  sftDataSchema.parse({ loss_mask: 'completion_only' }),
  32,
).examples;
const batchOf = (indices: number[], step: number) =>
  withBatchMeta(sftBatch(examples, indices), { step, round: 0 });
const poisoned = sftBatch(
  examples.map((e, i) => (i === 0 ? { ...e, weight: NaN } : e)),
  [0, 1, 2, 3],
);

function setup(reference = false) {
  const model = CausalLM.create(tinyConfig(), { seed: 2 });
  const optimizer = new SGD(Object.fromEntries(model.trainableVariables()), { lr: 0.1 });
  const update = new PendingUpdate();
  const emitted: Record<string, number>[] = [];
  const ref = reference ? model.referencePolicy() : null;
  const context = {
    services: { policy: model, optimizer, tokenizer: tok, update, reference: ref },
    emit: (m: Record<string, number>) => emitted.push(m),
  };
  const make = (def: StageDefinition, options: Record<string, unknown> = {}): Stage =>
    def.create(def.schema.parse(options), context);
  const dispose = () => {
    ref?.dispose();
    optimizer.dispose();
    model.dispose();
  };
  return { model, optimizer, update, emitted, make, ref, dispose };
}

beforeAll(async () => {
  await useBackend('wasm');
});

describe('loss.nll → optimizer.step, as marbles', () => {
  it('one update per batch, in order, each when its batch arrives; completes with the source', () => {
    const s = setup();
    const graph = pipe(
      s.make(nllLossStage, { micro_batch_size: 2 }),
      s.make(optimizerStepStage, { max_grad_norm: null }),
    );
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('-a--b-c|', {
        a: batchOf([0, 1, 2, 3], 1),
        b: batchOf([4, 5, 6, 7], 2),
        c: batchOf([8, 9, 10, 11], 3),
      });
      expectObservable(
        source.pipe(
          graph,
          map(() => s.optimizer.stepCount),
        ),
      ).toBe('-A--B-C|', {
        A: 1,
        B: 2,
        C: 3,
      });
    });
    // the loss node reports its terms, then the optimizer node the norm and rate, per batch
    expect(s.emitted.map((m) => Object.keys(m).sort().join(','))).toEqual([
      'loss,num_unmasked_tokens,num_valid_samples',
      'grad_norm,lr',
      'loss,num_unmasked_tokens,num_valid_samples',
      'grad_norm,lr',
      'loss,num_unmasked_tokens,num_valid_samples',
      'grad_norm,lr',
    ]);
    expect(s.update.pending).toBe(false);
    s.dispose();
  });

  it('passes a burst through one by one; an empty source completes with no update', () => {
    const s = setup();
    const graph = pipe(s.make(nllLossStage), s.make(optimizerStepStage));
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold<RecordBatch>('|').pipe(graph)).toBe('|');
    });
    expect(s.optimizer.stepCount).toBe(0);
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('(ab)|', { a: batchOf([0, 1], 1), b: batchOf([2, 3], 2) });
      expectObservable(
        source.pipe(
          graph,
          map(() => s.optimizer.stepCount),
        ),
      ).toBe('(AB)|', {
        A: 1,
        B: 2,
      });
    });
    s.dispose();
  });

  it('a non-finite loss errors the stream at its batch, after the batches before it; nothing is applied or leaked', () => {
    const s = setup();
    const graph = pipe(s.make(nllLossStage), s.make(optimizerStepStage));
    const tensors = tf.memory().numTensors;
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('-a-p-b|', { a: batchOf([4, 5], 1), p: poisoned, b: batchOf([6, 7], 3) });
      expectObservable(
        source.pipe(
          graph,
          map((): number | string => s.optimizer.stepCount),
          catchError((e: unknown) =>
            of(e instanceof NonFiniteError ? `non-finite ${e.metric}` : String(e)),
          ),
        ),
      ).toBe('-A-(E|)', { A: 1, E: 'non-finite loss' });
    });
    expect(s.optimizer.stepCount).toBe(1);
    expect(s.update.pending).toBe(false);
    expect(tf.memory().numTensors).toBe(tensors);
    s.dispose();
  });

  it('reads the step from batch metadata: a code objective sees it for every micro-batch', () => {
    const s = setup();
    const steps: number[] = [];
    const objective = sftLossStage('loss.objective', 'records the step', (inputs, ctx) => {
      steps.push(ctx.step);
      return nllLoss(inputs);
    });
    const graph = pipe(s.make(objective, { micro_batch_size: 2 }), s.make(optimizerStepStage));
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('a-b|', { a: batchOf([0, 1, 2, 3], 7), b: batchOf([4, 5], 8) });
      expectObservable(
        source.pipe(
          graph,
          map(() => 0),
        ),
      ).toBe('a-b|', { a: 0, b: 0 });
    });
    expect(steps).toEqual([7, 7, 8]);
    s.dispose();
  });

  it('the two stages make the same update as accumulatedStep: loss, grad norm and weights bit for bit', () => {
    const run = (viaStages: boolean) => {
      const s = setup();
      const batch = examples.slice(0, 6);
      let m: Record<string, number> = {};
      if (viaStages) {
        const graph = pipe(
          s.make(nllLossStage, { micro_batch_size: 4 }),
          s.make(optimizerStepStage, { max_grad_norm: 0.5 }),
        );
        graph(of(batchOf([0, 1, 2, 3, 4, 5], 1))).subscribe();
        m = Object.assign({}, ...s.emitted);
      } else {
        const global = weightedTokens(batch);
        m = accumulatedStep({
          model: s.model,
          optimizer: s.optimizer,
          microBatches: microBatches(batch, 4),
          loss: (mb) => sftMicroBatchLoss(s.model, mb, global, tok.padTokenId ?? tok.eosTokenId),
          maxGradNorm: 0.5,
        });
      }
      const w = [...s.model.trainableVariables()].map(([, v]) => Array.from(v.dataSync()));
      s.dispose();
      return { m, w };
    };
    const stages = run(true);
    const direct = run(false);
    expect(stages.m).toEqual(direct.m);
    expect(stages.w).toEqual(direct.w);
  });
});

describe('loss.clipped_pg → optimizer.step, as marbles', () => {
  /** two samples of one group: advantages ±a (NaN poisons the loss) */
  const samples = (a: number, step: number) =>
    withBatchMeta(
      updateBatch({
        prompts: { values: Int32Array.of(5, 6, 7), offsets: Int32Array.of(0, 2, 3) },
        completions: { values: Int32Array.of(8, 9, 10), offsets: Int32Array.of(0, 2, 3) },
        genLogprobs: { values: Float32Array.of(-2, -2, -2), offsets: Int32Array.of(0, 2, 3) },
        advantages: Float32Array.of(a, -a),
        rewards: Float32Array.of(1, 0),
        sampleMask: Float32Array.of(1, 1),
      }),
      { step, round: 0 },
    );

  it('one update per batch in order, completing with the source; a NaN advantage errors the stream at its batch', () => {
    const s = setup();
    const graph = pipe(
      s.make(clippedPgLossStage, { micro_batch_size: 1, reference_policy_kl_penalty: 0 }),
      s.make(optimizerStepStage, { max_grad_norm: null }),
    );
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('a-b|', { a: samples(1, 1), b: samples(0.5, 2) });
      expectObservable(
        source.pipe(
          graph,
          map(() => s.optimizer.stepCount),
        ),
      ).toBe('a-b|', {
        a: 1,
        b: 2,
      });
    });
    expect(s.emitted.filter((m) => 'grad_norm' in m)).toHaveLength(2);
    // the loss node reports what it trained on: one sample a pass, prompt + completion widths 2 + 2, then 1 + 1
    expect(s.emitted[0]).toMatchObject({ trained_tokens: 4 + 2 });
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('a-n-b|', { a: samples(1, 3), n: samples(NaN, 4), b: samples(1, 5) });
      expectObservable(
        source.pipe(
          graph,
          map((): number | string => s.optimizer.stepCount),
          catchError((e: unknown) =>
            of(e instanceof NonFiniteError ? `non-finite ${e.metric}` : String(e)),
          ),
        ),
      ).toBe('a-(E|)', { a: 3, E: 'non-finite loss' });
    });
    expect(s.optimizer.stepCount).toBe(3);
    expect(s.update.pending).toBe(false);
    s.dispose();
  });
});

describe('PendingUpdate', () => {
  it('keeps what a loss reads until the update is applied or dropped: a non-finite one is located with it, then it is freed', () => {
    const s = setup();
    const kept = tf.keep(tf.scalar(1));
    let released = 0;
    const batch = examples.slice(0, 2);
    s.update.accumulate({
      model: s.model,
      optimizer: s.optimizer,
      microBatches: [batch],
      // reads `kept` again when apply re-runs it to locate the NaN (NaN weight: the loss terms)
      loss: (mb) => {
        const r = sftMicroBatchLoss(
          s.model,
          mb.map((e) => ({ ...e, weight: NaN })),
          4,
          0,
        );
        return { ...r, loss: tf.mul(r.loss, kept) as tf.Scalar };
      },
      release: () => {
        released++;
        kept.dispose();
      },
    });
    expect(released).toBe(0);
    expect(() =>
      s.update.apply({ model: s.model, optimizer: s.optimizer, maxGradNorm: null }),
    ).toThrow(/non-finite loss \(NaN\).*first non-finite value: micro-batch 0/);
    expect(released).toBe(1);
    expect(kept.isDisposed).toBe(true);
    expect(s.optimizer.stepCount).toBe(0);
    s.dispose();
  });
});

describe('policy.reference_logprobs, as marbles', () => {
  const pairs = preferencePairs(
    tok,
    task.preferenceRows('train', 6),
    dpoDataSchema.parse({}),
    32,
  ).pairs;

  it("adds π_ref's per-token log-probs of each pair, batch by batch in order, equal to one forward per micro-batch", () => {
    const s = setup(true);
    const stage = s.make(referenceLogprobsStage, { micro_batch_size: 2 });
    const first = (b: RecordBatch) => readListColumn(b, REFERENCE_CHOSEN_LOGPS, 'float32');
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('a--b|', {
        a: preferenceBatch(pairs, [0, 1, 2]),
        b: preferenceBatch(pairs, [3, 4, 5]),
      });
      expectObservable(
        source.pipe(
          stage,
          map((b) => first(b).offsets.length - 1),
        ),
      ).toBe('a--b|', { a: 3, b: 3 });
    });
    // pairs 0 and 1 were one forward pass: row 1 holds that pass's chosen row 1
    let out: RecordBatch | undefined;
    stage(of(preferenceBatch(pairs, [0, 1, 2]))).subscribe((b: RecordBatch) => (out = b));
    const a = pairBatchArrays(pairs.slice(0, 2), tok.padTokenId ?? tok.eosTokenId);
    const lp = pairTokenLogps(s.ref!, a);
    const want = lp
      .dataSync()
      .slice(a.seqLen, a.seqLen + pairs[1]!.prompt.length + pairs[1]!.chosen.length - 1);
    lp.dispose();
    const got = first(out!);
    expect(Array.from(got.values.subarray(got.offsets[1]!, got.offsets[2]!))).toEqual(
      Array.from(want),
    );
    s.dispose();
  });

  it('errors at construction without a reference policy', () => {
    const s = setup(false);
    expect(() => s.make(referenceLogprobsStage)).toThrow(/needs a reference policy/);
    s.dispose();
  });
});
