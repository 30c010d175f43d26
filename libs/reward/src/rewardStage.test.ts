import { fileURLToPath } from 'node:url';
import * as arrow from 'apache-arrow';
import { firstValueFrom, from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { RxrlDataError } from '@rxrl/core/base';
import { rewardStage, type RewardBatchMetrics } from './rewardStage';
import { compositeReward } from './compositeReward';
import { formatReward } from './formatReward';
import { lengthPenalty } from './lengthPenalty';
import { mathReward } from './mathReward';
import { workerReward } from './workerReward';
import type { RewardSample } from './sample';

const MJS = fileURLToPath(new URL('../test/fixtures/verifiers.mjs', import.meta.url));

/** A rollout batch with DESIGN.md columns: text, answer, finish reason, token lists, ids. */
function rolloutBatch(
  rows: { completion: string; answer: string | null; tokens: number; finish?: string }[],
): arrow.RecordBatch {
  const tokenType = new arrow.List(new arrow.Field('item', new arrow.Int32(), false));
  const table = new arrow.Table({
    prompt_id: arrow.vectorFromArray(Int32Array.from(rows.map((_, i) => 100 + i))),
    prompt_text: arrow.vectorFromArray(
      rows.map((_, i) => `question ${i}`),
      new arrow.Utf8(),
    ),
    answer: arrow.vectorFromArray(
      rows.map((r) => r.answer),
      new arrow.Utf8(),
    ),
    completion_text: arrow.vectorFromArray(
      rows.map((r) => r.completion),
      new arrow.Utf8(),
    ),
    completion_tokens: arrow.vectorFromArray(
      rows.map((r) => Int32Array.from({ length: r.tokens }, (_, k) => k)),
      tokenType,
    ),
    finish_reason: arrow.vectorFromArray(
      rows.map((r) => r.finish ?? 'stop'),
      new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32()),
    ),
  });
  return table.batches[0];
}

const column = (b: arrow.RecordBatch, name: string) =>
  Array.from(b.getChild(name)!.toArray() as Float32Array);

describe('rewardStage', () => {
  it('writes reward and reward/<name> columns with exact composite values, leaving inputs untouched', async () => {
    const batch = rolloutBatch([
      { completion: '<think>2+2</think><answer>\\boxed{4}</answer>', answer: '4', tokens: 10 },
      { completion: '<think>hmm</think> \\boxed{5}', answer: '4', tokens: 30 },
      { completion: 'The answer is 4', answer: '4', tokens: 20 },
    ]);
    const metrics: RewardBatchMetrics[] = [];
    const stage = rewardStage(
      [
        { name: 'math', fn: mathReward() },
        { name: 'format', fn: formatReward({ mode: 'partial' }), weight: 0.5 },
        { name: 'length', fn: lengthPenalty({ target_length: 10, max_length: 30 }), weight: 0.25 },
      ],
      {},
      { onMetrics: (m) => metrics.push(m) },
    );
    const out = await firstValueFrom(from([batch]).pipe(stage));
    expect(out.schema.fields.map((f) => f.name)).toEqual([
      ...batch.schema.fields.map((f) => f.name),
      'reward',
      'reward/math',
      'reward/format',
      'reward/length',
    ]);
    expect(
      out.schema.fields
        .slice(-4)
        .every(
          (f) => f.type.typeId === arrow.Type.Float && f.type.precision === arrow.Precision.SINGLE,
        ),
    ).toBe(true);
    // existing columns are shared, not copied or rewritten
    batch.schema.fields.forEach((f, i) =>
      expect(out.data.children[i]).toBe(batch.data.children[i]),
    );
    expect(column(out, 'reward/math')).toEqual([1, 0, 1]);
    expect(column(out, 'reward/format')).toEqual([1, 0.25, 0]);
    expect(column(out, 'reward/length')).toEqual([0, -1, -0.5]); // tokens 10, 30, 20 on a 10→30 ramp
    // 1 + 0.5·1 + 0.25·0 ; 0 + 0.5·0.25 + 0.25·(−1) ; 1 + 0 + 0.25·(−0.5)
    expect(column(out, 'reward')).toEqual([1.5, -0.125, 0.875]);
    expect(metrics).toEqual([
      {
        samples: 3,
        'reward/mean': (1.5 - 0.125 + 0.875) / 3,
        'reward/nulls': 0,
        'reward/timeouts': 0,
        'reward/errors': 0,
        'reward/math/mean': 2 / 3,
        'reward/format/mean': 1.25 / 3,
        'reward/length/mean': -0.5,
      },
    ]);
  });

  it('passes extra scalar columns, token counts and finish reasons to the function', async () => {
    const seen: RewardSample[] = [];
    const stage = rewardStage((s) => {
      seen.push(s);
      return (s.prompt_id as number) + (s.completionTokens ?? 0);
    });
    const out = await firstValueFrom(
      from([rolloutBatch([{ completion: 'a', answer: null, tokens: 7, finish: 'length' }])]).pipe(
        stage,
      ),
    );
    expect(column(out, 'reward')).toEqual([107]);
    expect(out.getChild('reward/reward')).toBeNull(); // an unnamed single function writes only `reward`
    expect(seen[0]).toEqual({
      prompt: 'question 0',
      completion: 'a',
      answer: null,
      finishReason: 'length',
      completionTokens: 7,
      prompt_id: 100,
    });
  });

  it('writes null as NaN and counts nulls, errors and worker timeouts', async () => {
    const verifier = workerReward({
      module: MJS,
      export: 'hangOnRequest',
      num_workers: 2,
      timeout_ms: 300,
    });
    const metrics: RewardBatchMetrics[] = [];
    const stage = rewardStage(
      compositeReward([
        { name: 'math', fn: mathReward() },
        { name: 'worker', fn: verifier, weight: 0.1 },
        {
          name: 'user',
          fn: (s) => {
            if (s.completion.includes('boom')) throw new Error('boom');
            return 0;
          },
        },
      ]),
      {},
      { onMetrics: (m) => metrics.push(m) },
    );
    const batch = rolloutBatch([
      { completion: '\\boxed{1}', answer: '1', tokens: 1 },
      { completion: '\\boxed{1} hang', answer: '1', tokens: 1 },
      { completion: '\\boxed{2} boom', answer: '1', tokens: 1 },
      { completion: '\\boxed{3}', answer: null, tokens: 1 },
    ]);
    const out = await firstValueFrom(from([batch]).pipe(stage));
    await verifier.close();
    expect(column(out, 'reward/math')).toEqual([1, 1, 0, NaN]);
    expect(column(out, 'reward/worker')).toEqual([9, NaN, 14, 9]);
    expect(column(out, 'reward/user')).toEqual([0, 0, NaN, 0]);
    expect(column(out, 'reward')).toEqual([Math.fround(1.9), NaN, NaN, NaN]);
    expect(metrics[0]).toMatchObject({
      'reward/nulls': 3,
      'reward/timeouts': 1,
      'reward/errors': 1,
    });
  });

  it('stops the stream on errors when on_error is raise, and on bad return values', async () => {
    const boom = rewardStage(
      () => {
        throw new Error('verifier bug');
      },
      { on_error: 'raise' },
    );
    const batch = rolloutBatch([{ completion: 'a', answer: '1', tokens: 1 }]);
    await expect(firstValueFrom(from([batch]).pipe(boom))).rejects.toThrow('verifier bug');
    const counts: RewardBatchMetrics[] = [];
    const undef = rewardStage(() => undefined as never, {}, { onMetrics: (m) => counts.push(m) });
    const out = await firstValueFrom(from([batch]).pipe(undef));
    expect(column(out, 'reward')).toEqual([NaN]);
    expect(counts[0]['reward/errors']).toBe(1);
  });

  it('refuses to rewrite an existing column and names a missing one', async () => {
    const once = await firstValueFrom(
      from([rolloutBatch([{ completion: 'a', answer: '1', tokens: 1 }])]).pipe(
        rewardStage(() => 1),
      ),
    );
    await expect(firstValueFrom(from([once]).pipe(rewardStage(() => 2)))).rejects.toThrow(
      /already has a 'reward' column/,
    );
    const noText = new arrow.Table({ prompt_text: arrow.vectorFromArray(['q'], new arrow.Utf8()) })
      .batches[0];
    const err = await firstValueFrom(from([noText]).pipe(rewardStage(() => 1))).catch((e) => e);
    expect(err).toBeInstanceOf(RxrlDataError);
    expect(err.location.field).toBe('completion_text');
  });

  it('bounds concurrency and keeps batch and row order', async () => {
    let inFlight = 0;
    let peak = 0;
    const slow = async (s: RewardSample) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 5 + ((s.completion.length * 7) % 11)));
      inFlight--;
      return s.completion.length;
    };
    const batches = [0, 1, 2].map((b) =>
      rolloutBatch(
        Array.from({ length: 8 }, (_, i) => ({
          completion: 'y'.repeat(b * 8 + i + 1),
          answer: null,
          tokens: 1,
        })),
      ),
    );
    const outs = await lastValueFrom(
      from(batches).pipe(rewardStage(slow, { max_concurrency: 3 }), toArray()),
    );
    expect(peak).toBe(3);
    expect(outs.flatMap((b) => column(b, 'reward'))).toEqual(
      Array.from({ length: 24 }, (_, i) => i + 1),
    );
  });
});
