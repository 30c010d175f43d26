import { describe, expect, it } from 'vitest';
import {
  Data,
  Field,
  Int32,
  List,
  RecordBatch,
  RecordBatchReader,
  Schema,
  Struct,
  Table,
  makeData,
  tableFromIPC,
  tableToIPC,
} from 'apache-arrow';
import {
  COLUMNS,
  addColumns,
  dictionaryUtf8Vector,
  listVector,
  listVectorFromRows,
  makeRecordBatch,
  readFloat32Column,
  readInt32Column,
  readList,
  readListColumn,
  readScalar,
  rewardColumn,
} from './columns';
import { RxrlDataError, RxrlUsageError } from './errors';

const rowsOf = (flat: { values: ArrayLike<number>; offsets: Int32Array }) =>
  Array.from({ length: flat.offsets.length - 1 }, (_, i) =>
    Array.from(flat.values).slice(flat.offsets[i]!, flat.offsets[i + 1]!),
  );

describe('list columns', () => {
  it('builds List<Int32> zero-copy and reads the same buffers back', () => {
    const values = Int32Array.of(1, 2, 3, 4, 5, 6);
    const offsets = Int32Array.of(0, 2, 2, 6);
    const vector = listVector(values, offsets);
    expect(String(vector.type)).toBe('List<Int32>');
    expect(vector.length).toBe(3);
    expect([...vector.get(2)!]).toEqual([3, 4, 5, 6]);
    const back = readList(vector);
    expect(back.values.buffer).toBe(values.buffer);
    expect(back.offsets.buffer).toBe(offsets.buffer);
    expect(rowsOf(back)).toEqual([[1, 2], [], [3, 4, 5, 6]]);
  });

  it('keeps Float32 and Uint8 element types', () => {
    expect(String(listVector(Float32Array.of(0.5, -1), Int32Array.of(0, 2)).type)).toBe(
      'List<Float32>',
    );
    expect(String(listVector(Uint8Array.of(0, 1, 1), Int32Array.of(0, 1, 3)).type)).toBe(
      'List<Uint8>',
    );
    const f = readList(listVectorFromRows([[0.25], [1.5, -2]], 'float32'));
    expect(f.values).toBeInstanceOf(Float32Array);
    expect(rowsOf(f)).toEqual([[0.25], [1.5, -2]]);
  });

  it('reads a sliced vector: values stay a view, offsets are rebased to 0', () => {
    const vector = listVectorFromRows([[1], [2, 3], [4, 5, 6], [7]]);
    const sliced = vector.slice(1, 3);
    const flat = readList(sliced);
    expect(Array.from(flat.offsets)).toEqual([0, 2, 5]);
    expect(Array.from(flat.values)).toEqual([2, 3, 4, 5, 6]);
    expect(flat.values.buffer).toBe(readList(vector).values.buffer);
    expect(flat.values.byteOffset).toBe(4);
  });

  it('concatenates several chunks', () => {
    const a = listVectorFromRows([[1, 2], [3]]);
    const b = listVectorFromRows([[], [4, 5, 6]]);
    const flat = readList(a.concat(b));
    expect(Array.from(flat.offsets)).toEqual([0, 2, 3, 3, 6]);
    expect(Array.from(flat.values)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('reads offsets that do not start at 0 after an IPC round trip', () => {
    // Data as another writer may produce it: offsets start at 3 into the values.
    const child = makeData({
      type: new Int32(),
      data: Int32Array.of(90, 91, 92, 10, 11, 12, 13),
      length: 7,
    });
    const type = new List(new Field('item', new Int32(), false));
    const list = makeData({
      type,
      length: 2,
      nullCount: 0,
      valueOffsets: Int32Array.of(3, 5, 7),
      child,
    });
    const fields = [new Field('input_tokens', type, false)];
    const batch = new RecordBatch(
      new Schema(fields),
      makeData({ type: new Struct(fields), length: 2, nullCount: 0, children: [list as Data] }),
    );
    for (const format of ['file', 'stream'] as const) {
      const table = tableFromIPC(tableToIPC(new Table(batch), format));
      const flat = readListColumn(table, 'input_tokens', 'int32');
      expect(flat.offsets[0]).toBe(0);
      expect(rowsOf(flat)).toEqual([
        [10, 11],
        [12, 13],
      ]);
    }
    // and an arrow-js reader over a sliced batch written to a stream
    const sliced = listVectorFromRows([[1], [2, 3], [4]]).slice(1);
    const reread = tableFromIPC(tableToIPC(new Table({ t: sliced }), 'stream'));
    expect(rowsOf(readList(reread.getChild('t')!))).toEqual([[2, 3], [4]]);
  });

  it('reads IPC data whose offsets buffer is padded and whose offsets start past 0', () => {
    const n = 2222;
    const values = Int32Array.from({ length: n }, (_, i) => i);
    const bytes = tableToIPC(
      new Table({ t: listVector(values, Int32Array.of(0, 1111, n)) }),
      'stream',
    );
    // arrow-js pads the offsets buffer to 8 bytes: three offsets come back as four numbers
    const plain = tableFromIPC(bytes).getChild('t')!.data[0]!.valueOffsets;
    expect(Array.from(plain)).toEqual([0, 1111, n, 0]);
    // other writers may keep a slice's offsets: rewrite the first offset to 5 in the message body
    const needle = new Uint8Array(Int32Array.of(0, 1111, n).buffer);
    const at = Buffer.from(bytes).indexOf(Buffer.from(needle));
    expect(at).toBeGreaterThan(0);
    const patched = Uint8Array.from(bytes);
    new DataView(patched.buffer).setInt32(at, 5, true);
    const flat = readList(tableFromIPC(patched).getChild('t')!);
    expect(Array.from(flat.offsets)).toEqual([0, 1106, n - 5]);
    expect(flat.values[0]).toBe(5);
    expect(flat.values.length).toBe(n - 5);
  });

  it('rejects invalid offsets and wrong element types with named errors', () => {
    expect(() => listVector(Int32Array.of(1, 2), Int32Array.of(0, 2, 1))).toThrow(/decrease at 2/);
    expect(() => listVector(Int32Array.of(1, 2), Int32Array.of(0, 3))).toThrow(/only 2 values/);
    const batch = makeRecordBatch({ gen_logprobs: listVectorFromRows([[0.5]], 'float32') });
    expect(() => readListColumn(batch, 'gen_logprobs', 'int32')).toThrow(
      /'gen_logprobs' is List<Float32>, expected List<int32>/,
    );
    expect(() => readListColumn(batch, 'input_tokens', 'int32')).toThrow(RxrlDataError);
  });
});

describe('record batches', () => {
  it('builds a batch from named columns with the contract types', () => {
    const batch = makeRecordBatch({
      [COLUMNS.promptId]: Int32Array.of(7, 8),
      [COLUMNS.promptText]: ['2+2', '3+3'],
      [COLUMNS.reward]: Float32Array.of(1, 0.5),
      [COLUMNS.finishReason]: dictionaryUtf8Vector(['stop', 'length']),
      [COLUMNS.completionTokens]: listVectorFromRows([[4], [6, 2]]),
    });
    expect(batch.schema.fields.map((f) => `${f.name}:${f.type}`)).toEqual([
      'prompt_id:Int32',
      'prompt_text:Utf8',
      'reward:Float32',
      'finish_reason:Dictionary<Int32, Utf8>',
      'completion_tokens:List<Int32>',
    ]);
    expect(batch.getChild('finish_reason')!.toArray()).toEqual(['stop', 'length']);
    expect(Array.from(readInt32Column(batch, 'prompt_id'))).toEqual([7, 8]);
    expect(Array.from(readFloat32Column(batch, 'reward'))).toEqual([1, 0.5]);
    expect(rewardColumn('math')).toBe('reward/math');
    expect(() => makeRecordBatch({ a: Int32Array.of(1), b: Int32Array.of(1, 2) })).toThrow(
      /'b' has 2 rows, expected 1/,
    );
  });

  it('adds columns without rewriting, keeping metadata and existing buffers', () => {
    const ids = Int32Array.of(1, 2, 3);
    const batch = makeRecordBatch({ prompt_id: ids }, new Map([['k', 'v']]));
    const more = addColumns(batch, { advantage: Float32Array.of(0.1, 0.2, 0.3) });
    expect(more.schema.fields.map((f) => f.name)).toEqual(['prompt_id', 'advantage']);
    expect(more.schema.metadata.get('k')).toBe('v');
    expect(readInt32Column(more, 'prompt_id').buffer).toBe(ids.buffer);
    expect(() => addColumns(more, { prompt_id: Int32Array.of(0, 0, 0) })).toThrow(RxrlUsageError);
    expect(() => addColumns(more, { reward: Float32Array.of(1) })).toThrow(
      /'reward' has 1 rows, the batch has 3/,
    );
  });

  it('reads scalar columns across chunks and slices, zero-copy for one chunk', () => {
    const table = new Table([
      makeRecordBatch({ group_id: Int32Array.of(1, 2) }),
      makeRecordBatch({ group_id: Int32Array.of(3) }),
    ]);
    expect(Array.from(readInt32Column(table, 'group_id'))).toEqual([1, 2, 3]);
    const values = Int32Array.of(5, 6, 7, 8);
    const sliced = makeRecordBatch({ g: values }).getChild('g')!.slice(1, 3);
    const view = readScalar(sliced);
    expect(Array.from(view)).toEqual([6, 7]);
    expect(view.buffer).toBe(values.buffer);
    expect(() => readFloat32Column(table, 'group_id')).toThrow(
      /'group_id' is Int32, expected Float32/,
    );
  });

  it('keeps a multi-chunk column usable in a new batch', async () => {
    const t = tableFromIPC(
      tableToIPC(
        new Table([
          makeRecordBatch({ x: listVectorFromRows([[1]]) }),
          makeRecordBatch({ x: listVectorFromRows([[2, 3]]) }),
        ]),
      ),
    );
    const batch = makeRecordBatch({ x: t.getChild('x')! });
    expect(rowsOf(readListColumn(batch, 'x', 'int32'))).toEqual([[1], [2, 3]]);
    const reader = await RecordBatchReader.from(tableToIPC(new Table(batch), 'stream'));
    expect([...reader].length).toBe(1);
  });
});
