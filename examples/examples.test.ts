// The examples under test: their objectives and the plugin through the exported test
// harness (@rxrl/algorithms/testing: learns, finite gradients, micro-batching changes
// nothing), and every script run as a user runs it, shortened to 2 steps.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@rxrl/core';
import { composeLosses, dpoLoss, linearSchedule, maskedMean } from '@rxrl/loss';
import type { DpoObjective } from '@rxrl/algorithms';
import { AlgorithmTestCase } from '@rxrl/algorithms/testing';
import { rewardGapController, withBeta } from './dpo_adaptive_beta';
import { multiObjective } from './dpo_multi_objective';
import { UnlikelihoodSft } from './unlikelihood_plugin';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

beforeAll(async () => {
  await useBackend('wasm');
});

describe('the examples through @rxrl/algorithms/testing', () => {
  it('dpo_multi_objective: preference + SFT + k2-KL learns and is the same micro-batched', async () => {
    const t = await AlgorithmTestCase.run(
      { algorithm: 'dpo', objective: multiObjective(6) },
      { steps: 6 },
    );
    t.assertTrains();
    expect(t.report.microBatching.relativeDiff).toBeLessThan(1e-4);
  });

  it('the same k2 term as a per-micro-batch mean (what the example had) fails the micro-batching check', async () => {
    const perMicroBatchK2: DpoObjective = (inputs, ctx) => {
      const k2 = maskedMean(
        tf.div(tf.square(tf.sub(inputs.policyChosenLogps, inputs.referenceChosenLogps!)), 2),
        inputs.chosenMask!,
      ) as tf.Scalar;
      return composeLosses(
        {
          preference: { result: dpoLoss({ reference_policy_kl_penalty: 0.1 }, inputs) },
          kl: { result: { loss: k2, metrics: {} }, weight: 1 },
        },
        { step: ctx.step },
      );
    };
    const t = await AlgorithmTestCase.run(
      { algorithm: 'dpo', objective: perMicroBatchK2 },
      { steps: 6 },
    );
    expect(() => t.assertMicroBatchingInvariant()).toThrow(/micro-batching changes step/);
  });

  it('dpo_adaptive_beta: a linear β ramp and the reward-gap controller both learn', async () => {
    for (const schedule of [
      linearSchedule({ start: 0.05, end: 0.5, end_step: 6 }),
      rewardGapController(),
    ]) {
      const t = await AlgorithmTestCase.run(
        { algorithm: 'dpo', objective: withBeta(schedule) },
        { steps: 6 },
      );
      t.assertTrains();
    }
  });

  it('unlikelihood_plugin: the plugin learns, with finite gradients, the same micro-batched', async () => {
    const t = await AlgorithmTestCase.run(
      {
        algorithm: new UnlikelihoodSft(),
        options: { num_train_examples: 16, num_val_examples: 4 },
      },
      { steps: 6, lr: 1e-2 },
    );
    t.assertTrains();
    expect(t.report.algorithm).toBe('unlikelihood');
    expect(t.report.values.at(-1)!).toBeLessThan(t.report.values[0]! * 0.8);
  });
});

/** Runs an example as the README says, with RXRL_EXAMPLE_STEPS=2; its stdout. */
function runExample(file: string, args: string[] = []): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', `examples/${file}`, ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, RXRL_EXAMPLE_STEPS: '2' },
    timeout: 170_000,
  });
  expect(r.status, `${file}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

const number = String.raw`-?\d+\.\d+`;

describe('the example scripts run (2 steps each)', () => {
  it('dpo_multi_objective.ts and dpo_adaptive_beta.ts print their held-out figures', () => {
    expect(runExample('dpo_multi_objective.ts')).toMatch(
      new RegExp(`multi-objective DPO: held-out preference accuracy ${number} -> ${number}`),
    );
    const beta = runExample('dpo_adaptive_beta.ts');
    expect(beta).toMatch(/linear step 1: beta 0\.\d{4}/);
    expect(beta).toMatch(/controller step 1: beta 0\.1000/);
  });

  it('dpo_correctness_bonus.ts compares plain DPO with the bonus', () => {
    const out = runExample('dpo_correctness_bonus.ts');
    expect(out).toMatch(/plain DPO on 2\/5 flipped labels:\s+held-out preference accuracy/);
    expect(out).toMatch(/DPO \+ correctness bonus \(b=2\):\s+held-out preference accuracy/);
  });

  it('hybrid_dpo_grpo.ts, grpo_custom_grouping.ts and custom_grouping_strategy.ts run', () => {
    expect(runExample('hybrid_dpo_grpo.ts')).toMatch(/2 hybrid steps in/);
    const runDir = mkdtempSync(path.join(tmpdir(), 'rxrl-example-grouping-'));
    try {
      expect(runExample('grpo_custom_grouping.ts', [runDir])).toMatch(
        /stopped: max_num_steps after 2 steps/,
      );
    } finally {
      rmSync(runDir, { recursive: true, force: true });
    }
    expect(runExample('custom_grouping_strategy.ts')).toMatch(/length\s+reward\s+prompt\s+group/);
  });
});
