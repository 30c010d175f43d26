import { describe, expect, it } from 'vitest';
import { COLUMNS, readFloat32Column } from '@rxrl/core/base';
import { BuiltinTokenizer } from '@rxrl/data';
import { validateGraph } from '@rxrl/pipeline';
import { builtinStageRegistry } from '../builtinStages';
import type { PreferencePair } from './dpoExamples';
import { preferenceBatch, PREFERENCE_SOURCE_COLUMNS } from './pairBatch';
import { graphReadsPairTexts } from './pairColumns';

const tokenizer = new BuiltinTokenizer();
const enc = (t: string) => Int32Array.from(tokenizer.encode(t, { addSpecialTokens: false }));
const eos = tokenizer.eosTokenId!;

// file rows (one not tokenised: row 1), and the pairs of rows 0 and 2; the chosen ends in EOS
const rows = [
  { prompt: '2+3=', chosen: '5', rejected: '6', answer: '5', source: 'a', level: 1 },
  { prompt: 'x', chosen: 'y', rejected: 'z', answer: 'q' },
  { prompt: '7+7=', chosen: '15', rejected: '14', answer: 14, source: 'b', level: 3 },
];
const pair = (row: number): PreferencePair => ({
  prompt: enc(rows[row]!.prompt),
  chosen: Int32Array.from([...enc(rows[row]!.chosen), eos]),
  rejected: Int32Array.from([...enc(rows[row]!.rejected), eos]),
  weight: 1,
  row,
  source: rows[row],
});
const registry = builtinStageRegistry();

describe('the text columns of a preference batch', () => {
  it("with a tokenizer: texts decoded without special tokens, answer as text, the row's fields as columns", () => {
    const pairs = [pair(0), pair(1), pair(2)];
    const batch = preferenceBatch(pairs, [0, 2], tokenizer);
    expect(batch.schema.fields.map((f) => f.name)).toEqual([
      'prompt_tokens',
      'chosen_tokens',
      'rejected_tokens',
      'sample_mask',
      'prompt_id',
      'prompt_text',
      'chosen_text',
      'rejected_text',
      'answer',
      'source',
      'level',
    ]);
    expect(batch.getChild('chosen_text')!.toArray()).toEqual(['5', '15']);
    expect(batch.getChild('rejected_text')!.toArray()).toEqual(['6', '14']);
    // a numeric answer is written as text, for a verifier comparing strings
    expect(batch.getChild('answer')!.toArray()).toEqual(['5', '14']);
    expect(Array.from(readFloat32Column(batch, 'level'))).toEqual([1, 3]);
    expect(Array.from(batch.getChild('prompt_id')!.toArray() as Int32Array)).toEqual([0, 2]);
  });

  it('without one (a graph that reads no text): the token columns and weights alone', () => {
    const batch = preferenceBatch([pair(0), pair(2)], [1, 0]);
    expect(batch.schema.fields.map((f) => f.name)).toEqual([
      COLUMNS.promptTokens,
      COLUMNS.chosenTokens,
      COLUMNS.rejectedTokens,
      COLUMNS.sampleMask,
    ]);
  });

  it('only a graph with a stage that reads the texts decodes them', () => {
    const nodes = (spec: { stage: string; options?: Record<string, unknown> }[]) =>
      validateGraph(spec, { registry, sourceColumns: PREFERENCE_SOURCE_COLUMNS });
    const plain = [
      { stage: 'policy.reference_logprobs' },
      { stage: 'loss.dpo' },
      { stage: 'optimizer.step' },
    ];
    expect(graphReadsPairTexts(nodes(plain))).toBe(false);
    const bonus = [
      plain[0]!,
      { stage: 'reward.pair', options: { name: 'm', type: 'math' } },
      ...plain.slice(1),
    ];
    expect(graphReadsPairTexts(nodes(bonus))).toBe(true);
  });
});
