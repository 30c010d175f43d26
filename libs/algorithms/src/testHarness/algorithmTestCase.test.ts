import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@rxrl/core';
import { clippedPgLoss, composeLosses, nllLoss } from '@rxrl/loss';
import { AlgorithmTestCase } from './algorithmTestCase';

beforeAll(async () => {
  await useBackend('wasm');
});

describe('AlgorithmTestCase', () => {
  it('SFT: the loss of the fixed batch falls, gradients stay finite, 4 micro-batches give the one-batch update; no tensor leaks', async () => {
    const before = tf.memory().numTensors;
    const t = await AlgorithmTestCase.run({ algorithm: 'sft' }, { steps: 6 });
    expect(tf.memory().numTensors).toBe(before);
    t.assertTrains();
    const r = t.report;
    expect(r.values).toHaveLength(6);
    // measured (wasm): 4.64 -> 2.5 over 6 steps; the update agrees to ~1e-7 relative
    expect(r.values.at(-1)!).toBeLessThan(r.values[0]! * 0.8);
    expect(r.microBatching.relativeDiff).toBeLessThan(1e-5);
    expect(r.microBatching.maxAbsUpdate).toBeGreaterThan(0);
  });

  it('DPO: the preference loss falls from ln 2 and micro-batching changes nothing', async () => {
    const t = await AlgorithmTestCase.run({ algorithm: 'dpo' }, { steps: 6 });
    t.assertTrains();
    // the policy starts as the reference: every pair a tie, loss ln 2
    expect(t.report.values[0]).toBeCloseTo(Math.LN2, 5);
    expect(t.report.microBatching.relativeDiff).toBeLessThan(1e-4);
  });

  it('GRPO: the reward of a task a fresh model can learn rises; micro-batching changes nothing', async () => {
    const t = await AlgorithmTestCase.run({ algorithm: 'grpo' });
    t.assertTrains(0.2);
    expect(t.report.metric).toBe('train/reward');
    expect(t.report.microBatching.relativeDiff).toBeLessThan(1e-4);
  });

  it('GRPO with a custom objective (the stock clipped loss plus a weighted NLL of the samples) goes through the same checks', async () => {
    const t = await AlgorithmTestCase.run({
      algorithm: 'grpo',
      objective: (inputs, ctx) =>
        composeLosses(
          {
            pg: { result: clippedPgLoss(ctx.options, inputs) },
            nll: {
              result: nllLoss({
                logprobs: inputs.currLogprobs,
                tokenMask: inputs.tokenMask,
                globalValidToks: inputs.globalValidToks!,
              }),
              weight: 0.01,
            },
          },
          { step: ctx.step },
        ),
    });
    t.assertTrains(0.2);
    expect(t.report.microBatching.relativeDiff).toBeLessThan(1e-4);
  });

  it('each check fails when it should: a per-micro-batch mean, a loss that cannot learn, a NaN', async () => {
    // normalised by the micro-batch's own tokens: 4 micro-batches count as 4 batches
    const perMicroBatch = await AlgorithmTestCase.run(
      {
        algorithm: 'sft',
        objective: (inputs) =>
          nllLoss({ ...inputs, globalValidToks: tf.sum(inputs.tokenMask).dataSync()[0]! }),
      },
      { steps: 2 },
    );
    expect(() => perMicroBatch.assertMicroBatchingInvariant()).toThrow(
      /micro-batching changes step \d+: 4 micro-batches of 2 vs one batch of 8/,
    );
    // a loss with no gradient does not fall
    const frozen = await AlgorithmTestCase.run(
      {
        algorithm: 'sft',
        objective: (inputs) => {
          const r = nllLoss(inputs);
          return { loss: tf.mul(r.loss, 0) as tf.Scalar, metrics: r.metrics };
        },
      },
      { steps: 4 },
    );
    expect(() => frozen.assertLossFalls()).toThrow(/train\/loss did not fall/);
    // NaN: training stops with the runner's non-finite error, which the checks report
    const nan = await AlgorithmTestCase.run(
      {
        algorithm: 'sft',
        objective: (inputs) => {
          const r = nllLoss(inputs);
          return { loss: tf.mul(r.loss, NaN) as tf.Scalar, metrics: r.metrics };
        },
      },
      { steps: 2 },
    );
    expect(() => nan.assertGradientsFinite()).toThrow(/training failed: .*(NaN|non-finite)/i);
  });
});
