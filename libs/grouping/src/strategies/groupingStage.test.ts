import { describe, expect, it, vi } from 'vitest';
import { firstValueFrom, from, toArray } from 'rxjs';
import type { RecordBatch } from 'apache-arrow';
import {
  addColumns,
  listVector,
  makeRecordBatch,
  readInt32Column,
  withBatchMeta,
  type MetricEvent,
} from '@rxrl/core/base';
import { Rng } from '@rxrl/core/base';
import { formGroupsStage } from '../stageDefinitions';
import { groupingStage, readGroupingInput } from './groupingStage';
import { formGroups } from './strategyRegistry';

const embeddingRows = [
  [1, 0.05, 0],
  [0.02, 1, 0],
  [0.95, 0, 0.1],
  [0.1, 0.9, 0.05],
];

function batch(withEmbedding: boolean): RecordBatch {
  const columns: Parameters<typeof makeRecordBatch>[0] = {
    prompt_id: Int32Array.of(0, 0, 1, 1),
    reward: Float32Array.of(1, 0, 1, 0),
    completion_tokens: listVector(Int32Array.of(5, 6, 7, 8, 9, 10), Int32Array.of(0, 1, 3, 3, 6)),
  };
  if (withEmbedding) {
    columns.embedding = listVector(
      Float32Array.from(embeddingRows.flat()),
      Int32Array.of(0, 3, 6, 9, 12),
    );
  }
  return makeRecordBatch(columns);
}

/** Runs `batches` through the stage as steps `firstStep`, `firstStep + 1`, ... (the step travels in batch metadata). */
const runStage = (stage: ReturnType<typeof groupingStage>, batches: RecordBatch[], firstStep = 1) =>
  firstValueFrom(
    from(batches.map((b, i) => withBatchMeta(b, { step: firstStep + i, round: 0 }))).pipe(
      stage,
      toArray(),
    ),
  );

describe('grouping.form_groups stage', () => {
  it('adds group_id (Int32) and leaves the input columns as they were', async () => {
    const input = batch(true);
    const [out] = await runStage(groupingStage({ strategy: 'semantic' }), [input]);
    expect(out!.schema.fields.map((f) => f.name)).toEqual([
      'prompt_id',
      'reward',
      'completion_tokens',
      'embedding',
      'group_id',
    ]);
    expect(out!.getChild('group_id')!.type.toString()).toBe('Int32');
    // by prompt would be [0, 0, 1, 1]; the embeddings cluster 0 with 2 and 1 with 3
    expect(Array.from(readInt32Column(out!, 'group_id'))).toEqual([0, 1, 0, 1]);
    for (const name of ['prompt_id', 'reward', 'completion_tokens', 'embedding']) {
      expect(out!.getChild(name)!.data[0]).toBe(input.getChild(name)!.data[0]);
    }
  });

  it('defaults to by_prompt', async () => {
    const [out] = await runStage(groupingStage(), [batch(false)]);
    expect(Array.from(readInt32Column(out!, 'group_id'))).toEqual([0, 0, 1, 1]);
  });

  it('refuses to overwrite an existing group_id unless replace_group_id: true', async () => {
    const withIds = addColumns(batch(false), { group_id: Int32Array.of(7, 7, 8, 8) });
    await expect(runStage(groupingStage({ strategy: 'performance' }), [withIds])).rejects.toThrow(
      /already has a 'group_id' column.*replace_group_id: true/,
    );
    const [out] = await runStage(
      groupingStage({
        strategy: 'performance',
        options: { group_size: 2 },
        replace_group_id: true,
      }),
      [withIds],
    );
    // rewards 1, 0, 1, 0 sorted: 1, 3 | 0, 2
    expect(out!.schema.fields.map((f) => f.name)).toEqual([
      'prompt_id',
      'reward',
      'completion_tokens',
      'group_id',
    ]);
    expect(Array.from(readInt32Column(out!, 'group_id'))).toEqual([0, 1, 0, 1]);
  });

  it('calls the embedder only when the strategy in force needs embeddings and the batch has none', async () => {
    const embedder = vi.fn(async (b: RecordBatch) =>
      embeddingRows.slice(0, b.numRows).map((r) => Float32Array.from(r)),
    );
    const stage = groupingStage(
      {
        strategy: 'adaptive',
        total_steps: 4,
        options: { schedule: [{ until: 0.5, strategy: 'by_prompt' }, { strategy: 'semantic' }] },
      },
      { embedder },
    );
    const outs = await runStage(stage, [batch(false), batch(false), batch(false), batch(true)]);
    // steps 0, 1: by_prompt; step 2: semantic via the embedder; step 3: semantic from the column
    expect(outs.map((b) => Array.from(readInt32Column(b, 'group_id')))).toEqual([
      [0, 0, 1, 1],
      [0, 0, 1, 1],
      [0, 1, 0, 1],
      [0, 1, 0, 1],
    ]);
    expect(embedder).toHaveBeenCalledTimes(1);
  });

  it('draws step s from Rng(seed).fork(step:s), so each step differs and a resumed run repeats', async () => {
    const eight = makeRecordBatch({
      prompt_id: Int32Array.of(0, 0, 0, 0, 1, 1, 1, 1),
      reward: new Float32Array(8),
    });
    const options = { strategy: 'random', options: { group_size: 2 }, seed: 9 };
    const outs = await runStage(groupingStage(options), [eight, eight, eight]);
    const got = outs.map((b) => Array.from(readInt32Column(b, 'group_id')));
    const expected = [0, 1, 2].map((step) =>
      Array.from(
        formGroups(
          readGroupingInput(eight),
          { strategy: 'random', options: { group_size: 2 } },
          {
            step,
            totalSteps: 0,
            rng: new Rng(9).fork(`step:${step}`),
          },
        ),
      ),
    );
    expect(got).toEqual(expected);
    expect(got[1]).not.toEqual(got[0]);
    // a resumed run's batch carries its own step, so it groups as the uninterrupted run did
    const resumed = await runStage(groupingStage(options), [eight], 3);
    expect(Array.from(readInt32Column(resumed[0]!, 'group_id'))).toEqual(got[2]);
    // a refill batch of the same step (round 1) draws its own stream
    const refill = await firstValueFrom(
      from([withBatchMeta(eight, { step: 3, round: 1 })]).pipe(groupingStage(options), toArray()),
    );
    expect(Array.from(readInt32Column(refill[0]!, 'group_id'))).not.toEqual(got[2]);
  });

  it('names the problem when the embedder returns the wrong number of rows', async () => {
    const stage = groupingStage(
      { strategy: 'semantic' },
      { embedder: async () => [Float32Array.of(1, 0)] },
    );
    await expect(runStage(stage, [batch(false)])).rejects.toThrow(
      /embedder returned 1 rows for a batch of 4/,
    );
  });

  it('reports train/grouping/* metrics per step', async () => {
    const events: MetricEvent[] = [];
    await runStage(groupingStage({}, { onMetrics: (e) => events.push(...e) }), [batch(true)], 6);
    const byName = Object.fromEntries(events.map((e) => [e.name, e]));
    expect(byName['train/grouping/num_groups']).toEqual({
      step: 5,
      name: 'train/grouping/num_groups',
      value: 2,
    });
    expect(byName['train/grouping/zero_std_fraction']!.value).toBe(0);
    expect(byName['train/grouping/reward_std_mean']!.value).toBeCloseTo(Math.SQRT1_2, 12);
    expect(byName['train/grouping/embedding_spread']!.value).toBeGreaterThan(0.9);
  });

  it('is in the registry by dotted name with a schema that names bad keys', () => {
    const entry = formGroupsStage;
    expect(entry.name).toBe('grouping.form_groups');
    expect(() => entry.schema.parse({ strategy: 'semantc' })).toThrow(/Did you mean 'semantic'/);
    expect(() => entry.schema.parse({ min_group_size: 4, max_group_size: 2 })).toThrow(
      /must be >= min_group_size \(4\)/,
    );
    expect(() =>
      entry.schema.parse({ strategy: 'adaptive', options: { schedule: [{ strategy: 'random' }] } }),
    ).toThrow(/total_steps/);
    expect(() => groupingStage({ strategy: 'performance', options: { mode: 'sorted' } })).toThrow(
      /strategy: grouping strategy 'performance': options\.mode/,
    );
  });
});
