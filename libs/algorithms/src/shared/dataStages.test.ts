import { describe, expect, it } from 'vitest';
import { lastValueFrom, of } from 'rxjs';
import type { RecordBatch } from 'apache-arrow';
import {
  batchStep,
  COLUMNS,
  readFloat32Column,
  readInt32Column,
  readListColumn,
  withBatchMeta,
  type StageDefinition,
} from '@rxrl/core/base';
import { ArithmeticTask, BuiltinTokenizer } from '@rxrl/data';
import { builtinStageRegistry } from '../builtinStages';
import { preferencePairs } from '../dpo/dpoExamples';
import { dpoDataSchema } from '../dpo/dpoOptions';
import { preferenceBatch } from '../dpo/pairBatch';
import { sftBatch } from '../sft/sftBatch';
import { sftExamples } from '../sft/sftExamples';
import { sftDataSchema } from '../sft/sftOptions';
import { validateStepGraph } from './stepGraph';
import {
  ATTENTION_MASK,
  dataPackStage,
  dataPadStage,
  dataTokenizeStage,
  INPUT_IDS,
  POSITION_IDS,
  rawRowsBatch,
  SEGMENT_IDS,
} from './dataStages';

const tok = new BuiltinTokenizer();
const task = new ArithmeticTask({ operators: ['+', '-'], max_digits: 2, seed: 3 });
const context = { services: { tokenizer: tok }, emit: () => {} };
const run = (def: StageDefinition, options: Record<string, unknown>, batch: RecordBatch) =>
  lastValueFrom(of(batch).pipe(def.create(def.schema.parse(options), context)));
const lists = (b: RecordBatch, name: string, kind: 'int32' | 'uint8' | 'float32' = 'int32') => {
  const { values, offsets } = readListColumn(b, name, kind);
  return Array.from({ length: b.numRows }, (_, i) =>
    Array.from(values.subarray(offsets[i]!, offsets[i + 1]!)),
  );
};

describe('data.tokenize', () => {
  it('SFT rows: the same columns, byte for byte, as the examples the source tokenised before', async () => {
    const rows = task.sftRows('train', 40);
    const data = sftDataSchema.parse({ loss_mask: 'completion_only', truncation: 'drop' });
    const examples = sftExamples(tok, rows, data, 12).examples;
    // rows 5, 17, 3 of the dataset, as a step's raw batch
    const picks = [5, 17, 3];
    const raw = withBatchMeta(rawRowsBatch(rows, picks), { step: 7, round: 0 });
    expect(Array.from(readInt32Column(raw, COLUMNS.promptId))).toEqual([5, 17, 3]);
    const out = await run(
      dataTokenizeStage,
      { rows: 'sft', loss_mask: 'completion_only', truncation: 'drop', max_length: 12 },
      raw,
    );
    const expected = sftBatch(
      examples,
      picks.map((r) => examples.findIndex((e) => e.row === r)),
    );
    expect(out.numRows).toBe(3);
    expect(lists(out, COLUMNS.inputTokens)).toEqual(lists(expected, COLUMNS.inputTokens));
    expect(lists(out, COLUMNS.lossMask, 'uint8')).toEqual(
      lists(expected, COLUMNS.lossMask, 'uint8'),
    );
    expect(Array.from(readFloat32Column(out, COLUMNS.sampleMask))).toEqual([1, 1, 1]);
    expect(out.getChild(COLUMNS.answer)!.toArray()).toEqual(
      picks.map((r) => String(rows[r]!['answer'])),
    );
    // the batch keeps its step
    expect(batchStep(out)).toBe(7);
    // the first row, in numbers: BOS, the prompt's characters, the answer's, EOS; the loss on the answer and EOS
    const first = examples.find((e) => e.row === 5)!;
    expect(lists(out, COLUMNS.inputTokens)[0]).toEqual(Array.from(first.tokens));
    expect(lists(out, COLUMNS.inputTokens)[0]![0]).toBe(1);
    expect(lists(out, COLUMNS.inputTokens)[0]!.at(-1)).toBe(2);
  });

  it('over-length rows leave the batch (truncation drop); truncate_right cuts them to max_length', async () => {
    const rows = [
      { prompt: '1+1=', completion: '2' },
      { prompt: '100000+100000=', completion: '200000' },
    ];
    const raw = rawRowsBatch(rows, [0, 1]);
    const dropped = await run(
      dataTokenizeStage,
      { rows: 'sft', max_length: 8, truncation: 'drop' },
      raw,
    );
    expect(dropped.numRows).toBe(1);
    const cut = await run(
      dataTokenizeStage,
      { rows: 'sft', max_length: 8, truncation: 'truncate_right' },
      raw,
    );
    expect(lists(cut, COLUMNS.inputTokens).map((r) => r.length)).toEqual([7, 8]);
  });

  it('preference rows: the pairs preferenceBatch makes, with texts and the dataset row as prompt_id', async () => {
    const rows = task.preferenceRows('train', 20);
    const data = dpoDataSchema.parse({ truncation: 'drop' });
    const pairs = preferencePairs(tok, rows, data, 32).pairs;
    const picks = [9, 2];
    const out = await run(
      dataTokenizeStage,
      { rows: 'preference', truncation: 'drop', max_length: 32, pair_texts: true },
      rawRowsBatch(rows, picks),
    );
    const expected = preferenceBatch(
      pairs,
      picks.map((r) => pairs.findIndex((p) => p.row === r)),
      tok,
    );
    for (const c of [COLUMNS.promptTokens, COLUMNS.chosenTokens, COLUMNS.rejectedTokens])
      expect(lists(out, c)).toEqual(lists(expected, c));
    expect(Array.from(readInt32Column(out, COLUMNS.promptId))).toEqual([9, 2]);
    expect(out.getChild('chosen_text')!.toArray()).toEqual(
      expected.getChild('chosen_text')!.toArray(),
    );
    expect(out.getChild(COLUMNS.answer)!.toArray()).toEqual(
      picks.map((r) => String(rows[r]!['answer'])),
    );
    // without pair_texts only the token columns and the weights
    const bare = await run(
      dataTokenizeStage,
      { rows: 'preference', truncation: 'drop', max_length: 32 },
      rawRowsBatch(rows, picks),
    );
    expect(bare.schema.fields.map((f) => f.name)).toEqual([
      COLUMNS.promptTokens,
      COLUMNS.chosenTokens,
      COLUMNS.rejectedTokens,
      COLUMNS.sampleMask,
    ]);
  });

  it('a graph from raw rows: a loss node needs data.tokenize before it; unknown options fail', () => {
    const registry = builtinStageRegistry();
    expect(() =>
      validateStepGraph([{ stage: 'loss.nll' }, { stage: 'optimizer.step' }], {
        registry,
        sourceColumns: [COLUMNS.promptId],
      }),
    ).toThrow(
      /requires column 'input_tokens', which neither the source nor an earlier stage produces/,
    );
    expect(
      validateStepGraph(
        [
          { stage: 'data.tokenize', options: { rows: 'sft' } },
          { stage: 'loss.nll' },
          { stage: 'optimizer.step' },
        ],
        { registry, sourceColumns: [COLUMNS.promptId] },
      ).map((n) => n.name),
    ).toEqual(['data.tokenize', 'loss.nll', 'optimizer.step']);
    expect(() =>
      validateStepGraph(
        [
          { stage: 'data.tokenize', options: { rows: 'sft', max_lenght: 8 } },
          { stage: 'loss.nll' },
          { stage: 'optimizer.step' },
        ],
        { registry, sourceColumns: [COLUMNS.promptId] },
      ),
    ).toThrow(/graph\.0\.options\.max_lenght/);
    // it reads raw rows, so nothing comes before it
    expect(() =>
      validateStepGraph(
        [
          { stage: 'reward.pair', options: { name: 'm', type: 'math' } },
          { stage: 'data.tokenize', options: { rows: 'preference' } },
          { stage: 'loss.dpo', options: { reference_free: true } },
          { stage: 'optimizer.step' },
        ],
        {
          registry,
          sourceColumns: [
            COLUMNS.promptId,
            'prompt_text',
            'chosen_text',
            'rejected_text',
            'answer',
          ],
        },
      ),
    ).toThrow(/data\.tokenize reads the source's raw rows, so it is the graph's first node/);
    // a key of the other kind of row is named as such
    expect(() =>
      validateStepGraph(
        [
          { stage: 'data.tokenize', options: { rows: 'preference', loss_mask: 'all' } },
          { stage: 'loss.dpo', options: { reference_free: true } },
          { stage: 'optimizer.step' },
        ],
        { registry, sourceColumns: [COLUMNS.promptId] },
      ),
    ).toThrow(
      /graph\.0\.options\.loss_mask: not an option of data\.tokenize with rows: preference/,
    );
  });
});

describe('data.pad and data.pack', () => {
  const tokenised = () =>
    sftBatch(
      [
        {
          tokens: Int32Array.of(5, 6, 7),
          mask: Uint8Array.of(0, 1, 1),
          weight: 1,
          prompt: Int32Array.of(5),
          answer: null,
        },
        {
          tokens: Int32Array.of(8),
          mask: Uint8Array.of(1),
          weight: 1,
          prompt: Int32Array.of(),
          answer: null,
        },
        {
          tokens: Int32Array.of(9, 10),
          mask: Uint8Array.of(0, 1),
          weight: 1,
          prompt: Int32Array.of(9),
          answer: null,
        },
      ],
      [0, 1, 2],
    );

  it('data.pad: every row the longest one, right or left; mask, positions and the loss mask laid out alike', async () => {
    const right = await run(
      dataPadStage,
      { pad_token_id: 0 },
      withBatchMeta(tokenised(), { step: 3, round: 0 }),
    );
    expect(lists(right, INPUT_IDS)).toEqual([
      [5, 6, 7],
      [8, 0, 0],
      [9, 10, 0],
    ]);
    expect(lists(right, ATTENTION_MASK)).toEqual([
      [1, 1, 1],
      [1, 0, 0],
      [1, 1, 0],
    ]);
    expect(lists(right, POSITION_IDS)).toEqual([
      [0, 1, 2],
      [0, 0, 0],
      [0, 1, 0],
    ]);
    expect(lists(right, 'loss_mask_padded', 'uint8')).toEqual([
      [0, 1, 1],
      [1, 0, 0],
      [0, 1, 0],
    ]);
    // the tokenised columns pass through, the step stays
    expect(lists(right, COLUMNS.inputTokens)).toEqual([[5, 6, 7], [8], [9, 10]]);
    expect(batchStep(right)).toBe(3);
    const left = await run(
      dataPadStage,
      { padding_side: 'left', pad_to_multiple_of: 4 },
      tokenised(),
    );
    expect(lists(left, INPUT_IDS)).toEqual([
      [0, 5, 6, 7],
      [0, 0, 0, 8],
      [0, 0, 9, 10],
    ]);
    expect(lists(left, POSITION_IDS)[2]).toEqual([0, 0, 0, 1]);
  });

  it('data.pack: best-fit decreasing into rows of max_seq_len, segments and positions per sequence', async () => {
    const packed = await run(dataPackStage, { max_seq_len: 4 }, tokenised());
    // longest first: [5,6,7] then [9,10] opens a row, [8] fills the first row's last slot
    expect(lists(packed, INPUT_IDS)).toEqual([
      [5, 6, 7, 8],
      [9, 10, 0, 0],
    ]);
    expect(lists(packed, SEGMENT_IDS)).toEqual([
      [1, 1, 1, 2],
      [1, 1, 0, 0],
    ]);
    expect(lists(packed, POSITION_IDS)).toEqual([
      [0, 1, 2, 0],
      [0, 1, 0, 0],
    ]);
    expect(lists(packed, ATTENTION_MASK)).toEqual([
      [1, 1, 1, 1],
      [1, 1, 0, 0],
    ]);
    expect(lists(packed, COLUMNS.lossMask, 'uint8')).toEqual([
      [0, 1, 1, 1],
      [0, 1, 0, 0],
    ]);
    await expect(run(dataPackStage, { max_seq_len: 2 }, tokenised())).rejects.toThrow(
      /has 3 tokens, more than max_seq_len 2/,
    );
  });
});
