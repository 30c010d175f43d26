import { DataType, makeVector, vectorFromArray, type Vector } from 'apache-arrow';
import { listVector, readList, readScalar, type ListValues } from '@rxrl/core/base';

/**
 * `vector` with row `indices[i]` at position `i` (rows may repeat). Lists of
 * Int32/Float32/Uint8 and null-free fixed-width numbers are gathered as flat
 * typed arrays; any other type (strings, dictionaries, nested) goes through
 * arrow's row builder.
 */
export function repeatRows(vector: Vector, indices: Int32Array, name: string): Vector {
  const type = vector.type;
  if (DataType.isList(type) && vector.nullCount === 0) {
    const child = type.children[0]!.type;
    const flat =
      DataType.isInt(child) || DataType.isFloat(child) ? tryReadList(vector, name) : null;
    if (flat !== null) {
      const offsets = new Int32Array(indices.length + 1);
      for (let i = 0; i < indices.length; i++) {
        const r = indices[i]!;
        offsets[i + 1] = offsets[i]! + flat.offsets[r + 1]! - flat.offsets[r]!;
      }
      const Ctor = flat.values.constructor as { new (n: number): ListValues };
      const values = new Ctor(offsets[indices.length]!);
      for (let i = 0; i < indices.length; i++) {
        const r = indices[i]!;
        values.set(flat.values.subarray(flat.offsets[r]!, flat.offsets[r + 1]!), offsets[i]!);
      }
      return listVector(values, offsets);
    }
  }
  if (
    ((DataType.isInt(type) && type.bitWidth <= 32) || DataType.isFloat(type)) &&
    vector.nullCount === 0 &&
    !DataType.isDictionary(type)
  ) {
    const src = readScalar(vector, name);
    const Ctor = src.constructor as { new (n: number): typeof src };
    const out = new Ctor(indices.length);
    for (let i = 0; i < indices.length; i++) out[i] = src[indices[i]!]!;
    return makeVector(out as any);
  }
  const rows = new Array(indices.length);
  for (let i = 0; i < indices.length; i++) rows[i] = vector.get(indices[i]!);
  return vectorFromArray(rows, type);
}

function tryReadList(vector: Vector, name: string) {
  try {
    return readList(vector, name);
  } catch {
    return null; // element type the flat reader does not cover: use the row builder
  }
}
