import { firstValueFrom, of } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { makeRecordBatch, readFloat32Column } from '@rxrl/core/base';
import {
  pairBonusColumn,
  pairMarginColumn,
  pairRewardStage,
  pairRewardStageDefinition,
  parsePairColumn,
} from './pairReward';
import { rewardStageDefinitions } from './registry';

// three arithmetic pairs: the first two label the right answer chosen, the third is flipped
const pairs = () =>
  makeRecordBatch({
    prompt_id: Int32Array.of(0, 1, 2),
    prompt_text: ['2+3=', '9-4=', '7+7='],
    chosen_text: ['5', '5', '15'],
    rejected_text: ['6', '4', '14'],
    answer: ['5', '5', '14'],
  });

const run = async (options: Parameters<typeof pairRewardStage>[0]) => {
  const metrics: Record<string, number>[] = [];
  const out = await firstValueFrom(
    of(pairs()).pipe(pairRewardStage(options, (m) => metrics.push(m))),
  );
  return { out, metrics: metrics[0]! };
};

describe('reward.pair', () => {
  it("the guide's math_correctness: weight·1[correct] on the chosen side, 0 on the rejected", async () => {
    const { out, metrics } = await run({
      name: 'math_correctness',
      type: 'math',
      weight: 2,
      sides: ['chosen'],
    });
    expect(Array.from(readFloat32Column(out, 'bonus/math_correctness/chosen'))).toEqual([2, 2, 0]);
    expect(Array.from(readFloat32Column(out, 'bonus/math_correctness/rejected'))).toEqual([
      0, 0, 0,
    ]);
    expect(metrics).toEqual({
      'pair/math_correctness/chosen_mean': 2 / 3,
      'pair/math_correctness/nulls': 0,
    });
  });

  it('both sides by default; a margin is weight·(score(chosen) − score(rejected))', async () => {
    const both = await run({ name: 'm', type: 'math' });
    expect(Array.from(readFloat32Column(both.out, 'bonus/m/chosen'))).toEqual([1, 1, 0]);
    expect(Array.from(readFloat32Column(both.out, 'bonus/m/rejected'))).toEqual([0, 0, 1]);
    const margin = await run({ name: 'gap', type: 'math', output: 'margin', weight: 0.5 });
    expect(Array.from(readFloat32Column(margin.out, 'margin/gap'))).toEqual([0.5, 0.5, -0.5]);
    expect(margin.out.getChild('bonus/gap/chosen')).toBeNull();
  });

  it('is a registered stage: options checked, columns declared, answer required for math', () => {
    const def = rewardStageDefinitions().find((d) => d.name === 'reward.pair')!;
    expect(def).toBe(pairRewardStageDefinition);
    const o = def.schema.parse({ name: 'syntax', type: 'format', sides: ['chosen'] });
    expect(def.requires).toBeInstanceOf(Function);
    expect((def.requires as (o: unknown) => string[])(o)).toEqual(['chosen_text', 'rejected_text']);
    expect((def.produces as (o: unknown) => string[])(o)).toEqual([
      'bonus/syntax/chosen',
      'bonus/syntax/rejected',
    ]);
    const math = def.schema.parse({ name: 'm', type: 'math' });
    expect((def.requires as (o: unknown) => string[])(math)).toContain('answer');
    expect(
      def.schema.safeParse({ name: 'm', type: 'math', options: { abs_tol: -1 } }).success,
    ).toBe(false);
    expect(() =>
      def.schema.parse({ name: 'm', type: 'math', output: 'margin', sides: ['chosen'] }),
    ).toThrow(/a margin compares both responses/);
  });

  it('column names and their parse round-trip; other columns are not pair columns', () => {
    expect(parsePairColumn(pairBonusColumn('a.b', 'rejected'))).toEqual({
      kind: 'bonus',
      name: 'a.b',
      side: 'rejected',
    });
    expect(parsePairColumn(pairMarginColumn('gap'))).toEqual({ kind: 'margin', name: 'gap' });
    expect(parsePairColumn('reward/math')).toBeNull();
    expect(parsePairColumn('bonus/x/other')).toBeNull();
  });
});
