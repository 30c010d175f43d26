import { describe, expect, it } from 'vitest';
import { readFloat32Column } from '@rxrl/core/base';
import { BuiltinTokenizer } from '@rxrl/data';
import { builtinStageRegistry } from '../builtinStages';
import type { PreferencePair } from './dpoExamples';
import { pairBatch, scorePairs, validateDpoGraph } from './pairColumns';

const tokenizer = new BuiltinTokenizer();
const enc = (t: string) => Int32Array.from(tokenizer.encode(t, { addSpecialTokens: false }));
const eos = tokenizer.eosTokenId!;

// file rows (one not tokenised: row 1), and the pairs of rows 0 and 2; the chosen ends in EOS
const rows = [
  { prompt: '2+3=', chosen: '5', rejected: '6', answer: '5', source: 'a', level: 1 },
  { prompt: 'x', chosen: 'y', rejected: 'z', answer: 'q' },
  { prompt: '7+7=', chosen: '15', rejected: '14', answer: '14', source: 'b', level: 3 },
];
const pair = (row: number): PreferencePair => ({
  prompt: enc(rows[row]!.prompt),
  chosen: Int32Array.from([...enc(rows[row]!.chosen), eos]),
  rejected: Int32Array.from([...enc(rows[row]!.rejected), eos]),
  weight: 1,
  row,
});
const registry = builtinStageRegistry();

describe('DPO pair columns', () => {
  it("the pair batch: texts decoded without special tokens, the row's fields as columns", () => {
    const batch = pairBatch([pair(0), pair(2)], rows, tokenizer);
    expect(batch.schema.fields.map((f) => f.name)).toEqual([
      'prompt_id',
      'prompt_text',
      'chosen_text',
      'rejected_text',
      'answer',
      'source',
      'level',
    ]);
    expect(batch.getChild('chosen_text')!.toArray()).toEqual(['5', '15']);
    expect(batch.getChild('answer')!.toArray()).toEqual(['5', '14']);
    expect(Array.from(readFloat32Column(batch, 'level'))).toEqual([1, 3]);
    expect(Array.from(batch.getChild('prompt_id')!.toArray() as Int32Array)).toEqual([0, 2]);
  });

  it('scorePairs attaches each bonus and margin column to its pair', async () => {
    const graph = [
      {
        stage: 'reward.pair',
        options: { name: 'math', type: 'math', weight: 2, sides: ['chosen'] },
      },
      {
        stage: 'reward.pair',
        options: { name: 'gap', type: 'exact_match', output: 'margin', weight: 0.5 },
      },
    ];
    validateDpoGraph(graph, { registry });
    const metrics: Record<string, number> = {};
    const input = [pair(0), pair(2)];
    const scored = await scorePairs(graph, input, rows, tokenizer, registry, (m) =>
      Object.assign(metrics, m),
    );
    // row 0: chosen right (math 1; exact 1 vs 0); row 2 is flipped: chosen wrong, rejected right
    expect(scored.map((p) => p.bonuses)).toEqual([
      { math: { chosen: 2, rejected: 0 } },
      { math: { chosen: 0, rejected: 0 } },
    ]);
    expect(scored.map((p) => p.margins)).toEqual([{ gap: 0.5 }, { gap: -0.5 }]);
    expect(metrics).toMatchObject({ 'pair/math/chosen_mean': 0.5, 'pair/gap/rejected_mean': 0.5 });
    // the input pairs are left as they were
    expect(input[0]!.bonuses).toBeUndefined();
    expect(scored[0]!.chosen).toBe(input[0]!.chosen);
  });

  it('a stage that needs a column the pairs lack fails before anything runs', () => {
    expect(() =>
      validateDpoGraph([{ stage: 'reward.pair', options: { name: 'm', type: 'mathh' } }], {
        registry,
      }),
    ).toThrow(/graph\.0\.options\.type/);
    expect(() => validateDpoGraph([{ stage: 'grouping.advantages' }], { registry })).toThrow(
      /requires column 'reward'/,
    );
  });
});
