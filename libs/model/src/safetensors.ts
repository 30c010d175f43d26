import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { RxrlDataError } from '@rxrl/core/base';

/**
 * The safetensors format (https://huggingface.co/docs/safetensors): an 8-byte
 * little-endian header length N, N bytes of JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {...}}`,
 * then the raw little-endian tensor bytes, offsets relative to the end of the header.
 * Everything here is float32 in memory: F16 and BF16 are widened on read (exactly),
 * F64 is narrowed; we always write F32.
 */

/** A host tensor: row-major float32 data and its shape. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/** Dtype of each tensor as stored in the file, for reporting. */
export interface SafetensorsFile {
  tensors: Map<string, HostTensor>;
  dtypes: Map<string, string>;
  metadata: Record<string, string>;
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE half → float32 (exact: every half is representable in float32). */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function widen(dtype: string, bytes: Uint8Array, count: number, where: string): Float32Array {
  const out = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32':
      // byte copy: bit-exact (NaN payloads included) on little-endian hosts, which all Node targets are
      new Uint8Array(out.buffer).set(bytes.subarray(0, 4 * count));
      return out;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, true);
      return out;
    case 'BF16':
      // bf16 is the top half of a float32
      for (let i = 0; i < count; i++) {
        u32Scratch[0] = view.getUint16(2 * i, true) << 16;
        out[i] = f32Scratch[0]!;
      }
      return out;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      return out;
    default:
      throw new RxrlDataError(
        `${where}: dtype ${dtype} is not supported; expected F32, F16, BF16 or F64`,
        {
          field: 'dtype',
        },
      );
  }
}

const BYTES: Record<string, number> = { F32: 4, F64: 8, BF16: 2, F16: 2 };

/** Parse a safetensors byte buffer; `source` names the file in errors. */
export function parseSafetensors(bytes: Uint8Array, source = 'safetensors'): SafetensorsFile {
  if (bytes.byteLength < 8)
    throw new RxrlDataError(
      `${source}: file is ${bytes.byteLength} bytes, too short for a header`,
      { source },
    );
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (8 + headerLen > bytes.byteLength) {
    throw new RxrlDataError(
      `${source}: header length ${headerLen} runs past the end of the file (${bytes.byteLength} bytes)`,
      { source },
    );
  }
  let header: Record<string, any>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw new RxrlDataError(`${source}: header is not valid JSON`, { source }, { cause: e });
  }
  const dataStart = 8 + headerLen;
  const tensors = new Map<string, HostTensor>();
  const dtypes = new Map<string, string>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const where = `${source}: tensor ${name}`;
    const shape = entry?.shape;
    const offsets = entry?.data_offsets;
    if (!Array.isArray(shape) || !Array.isArray(offsets) || offsets.length !== 2) {
      throw new RxrlDataError(`${where}: header entry needs shape and data_offsets`, {
        source,
        field: name,
      });
    }
    const count = shape.reduce((a: number, b: number) => a * b, 1);
    const width = BYTES[entry.dtype];
    const [begin, end] = offsets as [number, number];
    if (width !== undefined && end - begin !== count * width) {
      throw new RxrlDataError(
        `${where}: data_offsets span ${end - begin} bytes but shape ${JSON.stringify(shape)} of ${entry.dtype} needs ${count * width}`,
        { source, field: name },
      );
    }
    if (dataStart + end > bytes.byteLength) {
      throw new RxrlDataError(`${where}: data runs past the end of the file`, {
        source,
        field: name,
      });
    }
    tensors.set(name, {
      shape,
      data: widen(entry.dtype, bytes.subarray(dataStart + begin, dataStart + end), count, where),
    });
    dtypes.set(name, entry.dtype);
  }
  return { tensors, dtypes, metadata };
}

/** Serialise float32 tensors (in the given order) to safetensors bytes. */
export function serializeSafetensors(
  tensors: Iterable<[string, HostTensor]>,
  metadata: Record<string, string> = { format: 'pt' },
): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  const parts: [HostTensor, number][] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length)
      throw new RangeError(
        `tensor ${name}: shape ${JSON.stringify(t.shape)} does not match ${t.data.length} values`,
      );
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * count] };
    parts.push([t, offset]);
    offset += 4 * count;
  }
  let json = JSON.stringify(header);
  // pad the header with spaces so the data starts 8-byte aligned, as the reference writer does
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  const dataStart = 8 + headerBytes.length;
  for (const [t, off] of parts)
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), dataStart + off);
  return out;
}

/** Read one .safetensors file. */
export async function readSafetensorsFile(file: string): Promise<SafetensorsFile> {
  const bytes = await fs.readFile(file);
  return parseSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), file);
}

export const SAFETENSORS_FILE = 'model.safetensors';
export const SAFETENSORS_INDEX_FILE = 'model.safetensors.index.json';

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

/**
 * Read all weights of a model directory: `model.safetensors`, or the shards
 * listed in `model.safetensors.index.json` (`weight_map: {name: shard file}`).
 */
export async function readWeights(dir: string): Promise<SafetensorsFile> {
  const indexPath = path.join(dir, SAFETENSORS_INDEX_FILE);
  if (await exists(indexPath)) {
    let index: any;
    try {
      index = JSON.parse(await fs.readFile(indexPath, 'utf8'));
    } catch (e) {
      throw new RxrlDataError(`${indexPath}: not valid JSON`, { source: indexPath }, { cause: e });
    }
    const weightMap = index?.weight_map;
    if (typeof weightMap !== 'object' || weightMap === null) {
      throw new RxrlDataError(`${indexPath}: missing weight_map object`, {
        source: indexPath,
        field: 'weight_map',
      });
    }
    const merged: SafetensorsFile = {
      tensors: new Map(),
      dtypes: new Map(),
      metadata: index.metadata ?? {},
    };
    const shards = [...new Set(Object.values(weightMap as Record<string, string>))];
    for (const shard of shards) {
      const file = await readSafetensorsFile(path.join(dir, shard));
      for (const [name, t] of file.tensors) {
        merged.tensors.set(name, t);
        merged.dtypes.set(name, file.dtypes.get(name)!);
      }
    }
    for (const [name, shard] of Object.entries(weightMap as Record<string, string>)) {
      if (!merged.tensors.has(name)) {
        throw new RxrlDataError(
          `${indexPath}: weight_map lists ${name} in ${shard}, but that shard does not contain it`,
          { source: indexPath, field: name },
        );
      }
    }
    return merged;
  }
  const single = path.join(dir, SAFETENSORS_FILE);
  if (!(await exists(single))) {
    throw new RxrlDataError(
      `${dir}: neither ${SAFETENSORS_FILE} nor ${SAFETENSORS_INDEX_FILE} found`,
      { source: dir },
    );
  }
  return readSafetensorsFile(single);
}

/**
 * Write weights into `dir`: one `model.safetensors`, or, when their size exceeds
 * `maxShardBytes`, shards `model-0000i-of-0000n.safetensors` plus the index file.
 */
export async function writeWeights(
  dir: string,
  tensors: Map<string, HostTensor>,
  maxShardBytes = Infinity,
): Promise<string[]> {
  await fs.mkdir(dir, { recursive: true });
  const shards: [string, HostTensor][][] = [[]];
  let size = 0;
  let total = 0;
  for (const entry of tensors) {
    const bytes = 4 * entry[1].data.length;
    if (size > 0 && size + bytes > maxShardBytes) {
      shards.push([]);
      size = 0;
    }
    shards[shards.length - 1]!.push(entry);
    size += bytes;
    total += bytes;
  }
  if (shards.length === 1) {
    await fs.writeFile(path.join(dir, SAFETENSORS_FILE), serializeSafetensors(shards[0]!));
    await fs.rm(path.join(dir, SAFETENSORS_INDEX_FILE), { force: true });
    return [SAFETENSORS_FILE];
  }
  const n = String(shards.length).padStart(5, '0');
  const names: string[] = [];
  const weightMap: Record<string, string> = {};
  for (let i = 0; i < shards.length; i++) {
    const name = `model-${String(i + 1).padStart(5, '0')}-of-${n}.safetensors`;
    await fs.writeFile(path.join(dir, name), serializeSafetensors(shards[i]!));
    for (const [tensorName] of shards[i]!) weightMap[tensorName] = name;
    names.push(name);
  }
  await fs.writeFile(
    path.join(dir, SAFETENSORS_INDEX_FILE),
    JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2),
  );
  await fs.rm(path.join(dir, SAFETENSORS_FILE), { force: true });
  return [...names, SAFETENSORS_INDEX_FILE];
}
