/**
 * Builders and readers for the columns of DESIGN.md's data contract.
 *
 * Token sequences travel as `List<Int32>` (per-token floats as `List<Float32>`,
 * loss masks as `List<Uint8>`), built from one flat typed array plus an
 * `Int32Array` of offsets and read back the same way, so no hot path ever
 * calls per-row `get()`. TensorFlow-free: every stage, including data, reward
 * and logging, uses these.
 */
import {
  Data,
  DataType,
  Dictionary,
  Field,
  Float32,
  Int32,
  List,
  Precision,
  RecordBatch,
  Schema,
  Struct,
  Table,
  Uint8,
  Utf8,
  Vector,
  makeData,
  makeVector,
  vectorFromArray,
} from 'apache-arrow';
import { RxrlDataError, RxrlUsageError } from './errors';

/** Column names of the data contract (DESIGN.md, "Data between stages"). */
export const COLUMNS = {
  promptId: 'prompt_id',
  promptTokens: 'prompt_tokens',
  promptText: 'prompt_text',
  answer: 'answer',
  completionTokens: 'completion_tokens',
  completionText: 'completion_text',
  genLogprobs: 'gen_logprobs',
  finishReason: 'finish_reason',
  groupId: 'group_id',
  reward: 'reward',
  advantage: 'advantage',
  sampleMask: 'sample_mask',
  inputTokens: 'input_tokens',
  lossMask: 'loss_mask',
  chosenTokens: 'chosen_tokens',
  rejectedTokens: 'rejected_tokens',
} as const;

/** Name of the column holding one reward component, e.g. `reward/math`. */
export function rewardColumn(component: string): string {
  return `${COLUMNS.reward}/${component}`;
}

/** Flat typed arrays a list column can hold. */
export type ListValues = Int32Array | Float32Array | Uint8Array;

/**
 * A list column as flat values plus offsets: row `i` is
 * `values.subarray(offsets[i], offsets[i + 1])`; `offsets[0]` is always 0.
 */
export interface FlatList<T extends ListValues = ListValues> {
  values: T;
  offsets: Int32Array;
}

type ElementType = Int32 | Float32 | Uint8;

function elementTypeOf(values: ListValues): ElementType {
  if (values instanceof Int32Array) return new Int32();
  if (values instanceof Float32Array) return new Float32();
  if (values instanceof Uint8Array) return new Uint8();
  throw new RxrlUsageError('list values must be an Int32Array, Float32Array or Uint8Array');
}

/**
 * A `List<Int32|Float32|Uint8>` vector over `values` and `offsets` without
 * copying either (the element type follows the typed array). Offsets need not
 * start at 0 but must be non-decreasing and within `values`.
 */
export function listVector<T extends ListValues>(
  values: T,
  offsets: Int32Array,
): Vector<List<ElementType>> {
  if (!(offsets instanceof Int32Array) || offsets.length < 1) {
    throw new RxrlUsageError('list offsets must be an Int32Array with at least one element');
  }
  const length = offsets.length - 1;
  if (offsets[0]! < 0) throw new RxrlUsageError(`list offsets[0] is ${offsets[0]}, expected >= 0`);
  for (let i = 0; i < length; i++) {
    if (offsets[i + 1]! < offsets[i]!) {
      throw new RxrlUsageError(
        `list offsets decrease at ${i + 1}: ${offsets[i]} then ${offsets[i + 1]}`,
      );
    }
  }
  if (offsets[length]! > values.length) {
    throw new RxrlUsageError(
      `list offsets end at ${offsets[length]} but there are only ${values.length} values`,
    );
  }
  const type = elementTypeOf(values);
  const child = makeData({
    type,
    data: values,
    length: values.length,
    nullCount: 0,
  } as any) as unknown as Data<ElementType>;
  const listType = new List(new Field('item', type, false));
  return makeVector(
    makeData({ type: listType, length, nullCount: 0, valueOffsets: offsets, child }),
  );
}

/** `List<Int32>` from per-row arrays; copies once into a flat buffer. Convenient for tests and small inputs. */
export function listVectorFromRows(
  rows: ArrayLike<number>[],
  type: 'int32' | 'float32' | 'uint8' = 'int32',
) {
  const offsets = new Int32Array(rows.length + 1);
  for (let i = 0; i < rows.length; i++) offsets[i + 1] = offsets[i]! + rows[i]!.length;
  const Ctor = type === 'int32' ? Int32Array : type === 'float32' ? Float32Array : Uint8Array;
  const values = new Ctor(offsets[rows.length]!);
  for (let i = 0; i < rows.length; i++) values.set(rows[i]!, offsets[i]!);
  return listVector(values, offsets);
}

function isElement(type: DataType, values: 'int32' | 'float32' | 'uint8'): boolean {
  if (values === 'float32') return DataType.isFloat(type) && type.precision === Precision.SINGLE;
  if (!DataType.isInt(type)) return false;
  return values === 'int32'
    ? type.bitWidth === 32 && type.isSigned
    : type.bitWidth === 8 && !type.isSigned;
}

function elementName(type: DataType): 'int32' | 'float32' | 'uint8' | null {
  for (const name of ['int32', 'float32', 'uint8'] as const) if (isElement(type, name)) return name;
  return null;
}

/**
 * Flat values and offsets of a list column. Zero-copy for a single chunk whose
 * offsets start at 0; offsets that start elsewhere (a sliced vector, or an IPC
 * file written by another library) are rebased into a small new Int32Array while
 * the values stay a view. Several chunks are concatenated (one copy).
 */
export function readList(vector: Vector, name = 'list column'): FlatList {
  if (!DataType.isList(vector.type)) {
    throw new RxrlDataError(`column '${name}' is ${vector.type}, expected a List`, { field: name });
  }
  const chunks = vector.data.map((d) => readListData(d as Data<List>, name));
  if (chunks.length === 1) return chunks[0]!;
  const elem = elementName(vector.type.children[0]!.type)!;
  let total = 0;
  let rows = 0;
  for (const c of chunks) {
    total += c.values.length;
    rows += c.offsets.length - 1;
  }
  const Ctor = elem === 'int32' ? Int32Array : elem === 'float32' ? Float32Array : Uint8Array;
  const values = new Ctor(total);
  const offsets = new Int32Array(rows + 1);
  let v = 0;
  let r = 0;
  for (const c of chunks) {
    values.set(c.values, v);
    const n = c.offsets.length - 1;
    for (let i = 1; i <= n; i++) offsets[r + i] = v + c.offsets[i]!;
    v += c.values.length;
    r += n;
  }
  return { values, offsets };
}

function readListData(data: Data<List>, name: string): FlatList {
  const child = data.children[0]!;
  if (elementName(child.type) === null) {
    throw new RxrlDataError(
      `column '${name}' is ${data.type}, expected List<Int32>, List<Float32> or List<Uint8>`,
      {
        field: name,
      },
    );
  }
  // arrow-js slices offsets eagerly (valueOffsets has length + 1 entries) and
  // fixed-width values eagerly, so both buffers are already views at this chunk.
  const raw = data.valueOffsets as Int32Array;
  const start = raw[0]!;
  const end = raw[data.length]!;
  const values = (child.values as ListValues).subarray(start, end);
  let offsets = raw.subarray(0, data.length + 1);
  if (start !== 0) offsets = offsets.map((o) => o - start);
  return { values, offsets };
}

/** A list column read as flat values of the expected element type; names the column when the type differs. */
export function readListAs<K extends 'int32' | 'float32' | 'uint8'>(
  vector: Vector,
  element: K,
  name = 'list column',
): FlatList<K extends 'int32' ? Int32Array : K extends 'float32' ? Float32Array : Uint8Array> {
  if (!DataType.isList(vector.type) || !isElement(vector.type.children[0]!.type, element)) {
    throw new RxrlDataError(`column '${name}' is ${vector.type}, expected List<${element}>`, {
      field: name,
    });
  }
  return readList(vector, name) as any;
}

type ScalarArray =
  Int32Array | Float32Array | Float64Array | Uint8Array | Int8Array | Int16Array | Uint32Array;

/**
 * Values of a fixed-width numeric column as a typed array: a zero-copy view for
 * one chunk, a concatenation for several. Nulls are not represented: a column
 * with nulls is an error naming it.
 */
export function readScalar(vector: Vector, name = 'column'): ScalarArray {
  const t = vector.type;
  if (!(DataType.isInt(t) && t.bitWidth <= 32) && !DataType.isFloat(t)) {
    throw new RxrlDataError(`column '${name}' is ${t}, expected a numeric column`, { field: name });
  }
  if (vector.nullCount > 0) {
    throw new RxrlDataError(`column '${name}' has ${vector.nullCount} null values`, {
      field: name,
    });
  }
  const views = vector.data.map((d) => (d.values as ScalarArray).subarray(0, d.length));
  if (views.length === 1) return views[0]!;
  const Ctor = views[0]!.constructor as { new (n: number): ScalarArray };
  const out = new Ctor(vector.length);
  let at = 0;
  for (const v of views) {
    out.set(v as any, at);
    at += v.length;
  }
  return out;
}

/** A column of a batch by name; names the batch's columns when it is missing. */
export function getColumn(batch: RecordBatch | Table, name: string): Vector {
  const column = batch.getChild(name);
  if (!column) {
    const have = batch.schema.fields.map((f) => f.name).join(', ');
    throw new RxrlDataError(`batch has no column '${name}' (columns: ${have || 'none'})`, {
      field: name,
    });
  }
  return column;
}

/** `Int32` vector over `values` (no copy). */
export function int32Vector(values: Int32Array): Vector<Int32> {
  return makeVector(values);
}

/** `Float32` vector over `values` (no copy). */
export function float32Vector(values: Float32Array): Vector<Float32> {
  return makeVector(values);
}

/** `Utf8` vector from strings. */
export function utf8Vector(values: readonly string[]): Vector<Utf8> {
  return vectorFromArray(values as string[], new Utf8());
}

/** Dictionary-encoded `Utf8` vector (for low-cardinality columns such as `finish_reason`). */
export function dictionaryUtf8Vector(values: readonly string[]): Vector<Dictionary<Utf8, Int32>> {
  return vectorFromArray(values as string[], new Dictionary(new Utf8(), new Int32()));
}

/** What a column can be given as: a vector, or data to turn into one. */
export type ColumnInput = Vector | Int32Array | Float32Array | readonly string[];

function toVector(name: string, input: ColumnInput): Vector {
  if (input instanceof Vector) return input;
  if (input instanceof Int32Array) return int32Vector(input);
  if (input instanceof Float32Array) return float32Vector(input);
  if (Array.isArray(input) && input.every((s) => typeof s === 'string')) return utf8Vector(input);
  throw new RxrlUsageError(
    `column '${name}' must be an arrow Vector, Int32Array, Float32Array or string[], got ${Object.prototype.toString.call(input)}`,
  );
}

/** One Data chunk for a vector: single-chunk vectors pass through, others are concatenated. */
function singleChunk(name: string, vector: Vector): Data {
  if (vector.data.length === 1) return vector.data[0]!;
  if (DataType.isList(vector.type)) {
    const { values, offsets } = readList(vector, name);
    return listVector(values, offsets).data[0]!;
  }
  if (
    (DataType.isInt(vector.type) && vector.type.bitWidth <= 32) ||
    DataType.isFloat(vector.type)
  ) {
    if (vector.nullCount === 0) return makeVector(readScalar(vector, name) as any).data[0]!;
  }
  return vectorFromArray(vector.toArray(), vector.type).data[0]!;
}

/**
 * A record batch from named columns (all the same length).
 * @example makeRecordBatch({ prompt_id: Int32Array.of(0, 1), prompt_text: ['a', 'b'] })
 */
export function makeRecordBatch(
  columns: Record<string, ColumnInput>,
  metadata?: Map<string, string>,
): RecordBatch {
  const fields: Field[] = [];
  const children: Data[] = [];
  let length = -1;
  for (const [name, input] of Object.entries(columns)) {
    const vector = toVector(name, input);
    if (length === -1) length = vector.length;
    else if (vector.length !== length) {
      throw new RxrlUsageError(
        `column '${name}' has ${vector.length} rows, expected ${length} like the others`,
      );
    }
    fields.push(new Field(name, vector.type, vector.nullCount > 0));
    children.push(singleChunk(name, vector));
  }
  const schema = new Schema(fields, metadata);
  const data = makeData({
    type: new Struct(fields),
    length: Math.max(length, 0),
    nullCount: 0,
    children,
  });
  return new RecordBatch(schema, data);
}

/** A one-batch table from named columns. */
export function makeTable(
  columns: Record<string, ColumnInput>,
  metadata?: Map<string, string>,
): Table {
  return new Table(makeRecordBatch(columns, metadata));
}

/**
 * `batch` with `columns` appended. A stage adds columns and never rewrites one
 * it did not make, so an existing name is an error. Schema metadata is kept.
 */
export function addColumns(batch: RecordBatch, columns: Record<string, ColumnInput>): RecordBatch {
  const fields = [...batch.schema.fields];
  const children = [...batch.data.children];
  for (const [name, input] of Object.entries(columns)) {
    if (fields.some((f) => f.name === name)) {
      throw new RxrlUsageError(
        `column '${name}' already exists; a stage adds columns, it never rewrites them`,
      );
    }
    const vector = toVector(name, input);
    if (vector.length !== batch.numRows) {
      throw new RxrlUsageError(
        `column '${name}' has ${vector.length} rows, the batch has ${batch.numRows}`,
      );
    }
    fields.push(new Field(name, vector.type, vector.nullCount > 0));
    children.push(singleChunk(name, vector));
  }
  const schema = new Schema(fields, batch.schema.metadata);
  const data = makeData({
    type: new Struct(fields),
    length: batch.numRows,
    nullCount: 0,
    children,
  });
  return new RecordBatch(schema, data);
}

/** `Int32` column of a batch as an Int32Array (zero-copy for one chunk). */
export function readInt32Column(batch: RecordBatch | Table, name: string): Int32Array {
  const column = getColumn(batch, name);
  if (!DataType.isInt(column.type) || column.type.bitWidth !== 32 || !column.type.isSigned) {
    throw new RxrlDataError(`column '${name}' is ${column.type}, expected Int32`, { field: name });
  }
  return readScalar(column, name) as Int32Array;
}

/** `Float32` column of a batch as a Float32Array (zero-copy for one chunk). */
export function readFloat32Column(batch: RecordBatch | Table, name: string): Float32Array {
  const column = getColumn(batch, name);
  if (!DataType.isFloat(column.type) || column.type.precision !== Precision.SINGLE) {
    throw new RxrlDataError(`column '${name}' is ${column.type}, expected Float32`, {
      field: name,
    });
  }
  return readScalar(column, name) as Float32Array;
}

/** List column of a batch as flat values + offsets of the expected element type. */
export function readListColumn<K extends 'int32' | 'float32' | 'uint8'>(
  batch: RecordBatch | Table,
  name: string,
  element: K,
) {
  return readListAs(getColumn(batch, name), element, name);
}
