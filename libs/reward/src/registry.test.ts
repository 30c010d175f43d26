import { fileURLToPath } from 'node:url';
import * as arrow from 'apache-arrow';
import { firstValueFrom, from } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { emptyContext, type StageDefinition } from '@rxrl/core/base';
import { rewardStages, type RewardStageName } from './registry';
import { RewardWorkerPool } from './workerPool';

const MJS = fileURLToPath(new URL('../test/fixtures/verifiers.mjs', import.meta.url));

const batch = new arrow.Table({
  completion_text: arrow.vectorFromArray(
    ['<think>a</think><answer>12</answer>', 'so #### 7', 'x is 3'],
    new arrow.Utf8(),
  ),
  answer: arrow.vectorFromArray(['12', '7', '4'], new arrow.Utf8()),
}).batches[0];
const run = async (stage: ReturnType<(typeof rewardStages)['reward.math']['create']>) =>
  firstValueFrom(from([batch]).pipe(stage));
/** A stage from plain (YAML) options: the definition's schema parses them, as a graph does. */
const make = (name: RewardStageName, options: Record<string, unknown>) => {
  const def: StageDefinition = rewardStages[name];
  return def.create(def.schema.parse(options), emptyContext());
};
const col = (b: arrow.RecordBatch, n: string) =>
  Array.from(b.getChild(n)!.toArray() as Float32Array);

describe('rewardStages registry', () => {
  it('names every reward stage with its dotted name', () => {
    expect(Object.keys(rewardStages).sort()).toEqual(
      [
        'composite',
        'exact_match',
        'format',
        'js',
        'length',
        'math',
        'pair',
        'regex_match',
        'remote',
        'worker',
      ].map((n) => `reward.${n}`),
    );
    for (const [k, v] of Object.entries(rewardStages)) expect(v.name).toBe(k);
  });

  it('creates stages from plain (YAML) options, function and stage options together', async () => {
    const out = await run(
      make('reward.math', {
        extraction_order: ['hash', 'answer_tag'],
        name: 'math',
        max_concurrency: 2,
      }),
    );
    expect(col(out, 'reward')).toEqual([1, 1, 0]);
    expect(col(out, 'reward/math')).toEqual([1, 1, 0]);
    const fmt = await run(make('reward.format', { mode: 'partial' }));
    expect(col(fmt, 'reward')).toEqual([1, 0, 0]);
    const worker = await run(
      make('reward.worker', {
        module: MJS,
        export: 'containsAnswer',
        num_workers: 1,
      }),
    );
    expect(col(worker, 'reward')).toEqual([1, 1, 0]);
    expect(RewardWorkerPool.liveThreads).toBe(0); // the stage closed the pool it made when the stream ended
    const js = await run(make('reward.js', { module: MJS, export: 'containsAnswer' }));
    expect(col(js, 'reward')).toEqual([1, 1, 0]);
  });

  it('rejects unknown and mistyped options with their key path', () => {
    const bad = rewardStages['reward.math'].schema.safeParse({ tolerance: 1 });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues[0]).toMatchObject({ code: 'unrecognized_keys', keys: ['tolerance'] });
    const typed = rewardStages['reward.length'].schema.safeParse({
      target_length: 'long',
      max_length: 10,
    });
    expect(typed.error!.issues[0].path).toEqual(['target_length']);
  });

  it('builds a weighted composite from typed components', async () => {
    const out = await run(
      make('reward.composite', {
        components: [
          { name: 'math', type: 'math' },
          { name: 'format', type: 'format', weight: 0.5, options: { mode: 'partial' } },
        ],
      }),
    );
    expect(col(out, 'reward/math')).toEqual([1, 1, 0]);
    expect(col(out, 'reward/format')).toEqual([1, 0, 0]);
    expect(col(out, 'reward')).toEqual([1.5, 1, 0]);
    expect(() =>
      make('reward.composite', {
        components: [{ name: 'f', type: 'format', options: { mode: 'lenient' } }],
      }),
    ).toThrow(/components\.0\.options\.mode/);
    expect(() =>
      make('reward.composite', {
        components: [{ name: 'x', type: 'sympy' as never }],
      }),
    ).toThrow(/type/);
  });
});
