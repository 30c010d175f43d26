import type { RecordBatch } from 'apache-arrow';
import { defer, map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  batchMeta,
  COLUMNS,
  listVectorFromRows,
  makeRecordBatch,
  readListColumn,
  withBatchMeta,
  type Stage,
} from '@rxrl/core/base';
import { dynamicSamplingStage } from '@rxrl/grouping';
import { openGraphSession, pipe } from '@rxrl/pipeline';
import { grpoStepLoop, type StepRollout } from './grpoStepLoop';

/** Rewards of each generation batch by `step/round`: two prompts, two samples each (groups 0, 1). */
const REWARDS: Record<string, number[]> = {
  // group 0 all equal (dropped), group 1 differs: one of the two groups the step needs
  '1/0': [1, 1, 0, 1],
  // group 0 differs: the step is complete; group 1 all equal
  '1/1': [1, 0, 0, 0],
  // both differ: complete at once
  '2/0': [0, 1, 1, 0],
};

/** A rollout stand-in: each prompt batch becomes four samples, completions numbered by round. */
function fakeRollout(seen: string[], subscriptions: { n: number }): Stage {
  return (source) =>
    defer(() => {
      subscriptions.n++;
      return source.pipe(
        map((batch: RecordBatch) => {
          const meta = batchMeta(batch)!;
          seen.push(`${meta.step}/${meta.round}`);
          const base = 10 * meta.step + 4 * meta.round;
          return makeRecordBatch(
            {
              [COLUMNS.promptTokens]: listVectorFromRows([[1], [1], [2], [2]]),
              [COLUMNS.promptText]: ['a', 'a', 'b', 'b'],
              [COLUMNS.answer]: ['1', '1', '2', '2'],
              [COLUMNS.completionTokens]: listVectorFromRows([0, 1, 2, 3].map((i) => [base + i])),
              [COLUMNS.completionText]: ['w', 'x', 'y', 'z'],
              [COLUMNS.genLogprobs]: listVectorFromRows([[-1], [-1], [-1], [-1]], 'float32'),
              [COLUMNS.finishReason]: ['stop', 'stop', 'stop', 'stop'],
              [COLUMNS.groupId]: Int32Array.of(0, 0, 1, 1),
              [COLUMNS.reward]: Float32Array.from(REWARDS[`${meta.step}/${meta.round}`]!),
              [COLUMNS.advantage]: Float32Array.of(0.5, -0.5, 0.5, -0.5),
            },
            new Map(batch.schema.metadata),
          );
        }),
      );
    });
}

const prompts = () =>
  makeRecordBatch({
    [COLUMNS.promptTokens]: listVectorFromRows([[1], [2]]),
    [COLUMNS.promptText]: ['a', 'b'],
    [COLUMNS.answer]: ['1', '2'],
  });

describe('grpoStepLoop', () => {
  it('one subscription for the run: refill rounds go round the rollout, the kept samples through the update in optimizer batches', async () => {
    const seen: string[] = [];
    const rolloutSubs = { n: 0 };
    let updateSubs = 0;
    const updates: { step: number; completions: number[]; inStep: string }[] = [];
    const update: Stage = (source) =>
      defer(() => {
        updateSubs++;
        return source.pipe(
          map((b: RecordBatch) => {
            updates.push({
              step: batchMeta(b)!.step,
              completions: Array.from(readListColumn(b, COLUMNS.completionTokens, 'int32').values),
              inStep: b.schema.metadata.get('rxrl.updates_in_step')!,
            });
            return b;
          }),
        );
      });
    let pulls = 0;
    const rollouts: StepRollout[] = [];
    const context = { services: {}, emit: () => {} };
    const session = openGraphSession(
      grpoStepLoop(
        pipe(
          fakeRollout(seen, rolloutSubs),
          dynamicSamplingStage.create({ target_groups: 2, max_gen_batches: 3 }, context),
        ),
        {
          update,
          globalBatchSize: 2,
          more: async () => {
            pulls++;
            return prompts();
          },
          onRollout: (r) => rollouts.push(r),
        },
      ),
    );
    // step 1: round 0 keeps one group, so the loop pulls the next prompt batch as round 1
    const out1 = await session.push(withBatchMeta(prompts(), { step: 1, round: 0 }));
    expect(seen).toEqual(['1/0', '1/1']);
    expect(pulls).toBe(1);
    // one batch out per batch in: the step's last generation batch
    expect(batchMeta(out1)).toEqual({ step: 1, round: 1 });
    expect(rollouts[0]!.kept).toEqual([
      [2, 3],
      [0, 1],
    ]);
    expect(rollouts[0]!.generated.map((g) => g.rewards.length)).toEqual([4, 4]);
    // the kept samples (round 0's group 1, round 1's group 0) in two updates of two
    expect(updates).toEqual([
      { step: 1, completions: [12, 13], inStep: '2' },
      { step: 1, completions: [14, 15], inStep: '2' },
    ]);
    // step 2 is complete at once: no pull, all four samples
    const out2 = await session.push(withBatchMeta(prompts(), { step: 2, round: 0 }));
    expect(batchMeta(out2)).toEqual({ step: 2, round: 0 });
    expect(seen).toEqual(['1/0', '1/1', '2/0']);
    expect(pulls).toBe(1);
    expect(updates.slice(2)).toEqual([
      { step: 2, completions: [20, 21], inStep: '2' },
      { step: 2, completions: [22, 23], inStep: '2' },
    ]);
    // both parts subscribed once for the whole run
    expect([rolloutSubs.n, updateSubs]).toEqual([1, 1]);
    session.close();
  });

  it('at the end of the epoch a short step trains on what it kept', async () => {
    const updates: number[][] = [];
    const update: Stage = (source) =>
      source.pipe(
        map((b: RecordBatch) => {
          updates.push(Array.from(readListColumn(b, COLUMNS.completionTokens, 'int32').values));
          return b;
        }),
      );
    const context = { services: {}, emit: () => {} };
    const session = openGraphSession(
      grpoStepLoop(
        pipe(
          fakeRollout([], { n: 0 }),
          dynamicSamplingStage.create({ target_groups: 2, max_gen_batches: 3 }, context),
        ),
        { update, globalBatchSize: 4, more: async () => undefined },
      ),
    );
    const out = await session.push(withBatchMeta(prompts(), { step: 1, round: 0 }));
    expect(batchMeta(out)).toEqual({ step: 1, round: 0 });
    expect(updates).toEqual([[12, 13]]);
    session.close();
  });
});
