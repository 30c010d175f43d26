import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ModelDirectoryError } from './errors';

/**
 * The safetensors format (https://huggingface.co/docs/safetensors): an 8-byte
 * little-endian header length N, N bytes of JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {...}}`,
 * then the raw little-endian tensor bytes, offsets relative to the end of the header.
 * Everything here is float32 in memory: F16 and BF16 are widened on read (exactly),
 * F64 is narrowed; we always write F32.
 *
 * Reading a directory is two steps: {@link inspectWeights} reads the index and
 * every shard's header (a few KB each) and checks them against each other and
 * the file sizes; {@link readTensorBytes} then reads the tensors' bytes at the
 * offsets the headers give, one positioned read per tensor (no whole-file
 * buffer, so shards over 2 GiB load too). Header problems are
 * {@link ModelDirectoryError}s naming the file and the tensor.
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

/** One tensor as a header describes it: where its bytes are, not the bytes. */
export interface TensorEntry {
  name: string;
  /** Path of the .safetensors file holding it. */
  file: string;
  dtype: string;
  shape: number[];
  /** Absolute byte offset of the data in `file`, and its length. */
  offset: number;
  byteLength: number;
}

/** What {@link inspectWeights} found in a model directory, before reading any weight data. */
export interface WeightsCatalog {
  /** The .safetensors files, in index order (one when unsharded). */
  files: string[];
  /** Path of model.safetensors.index.json, or null. */
  index: string | null;
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, unknown>;
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

function widen(dtype: string, bytes: Uint8Array, count: number): Float32Array {
  // Aligned float32 data is used in place: a resumed 0.5B run's checkpoint holds 6 GB
  // of weights and AdamW moments, and a copy of it is what an OOM kill is made of.
  if (dtype === 'F32' && bytes.byteOffset % 4 === 0)
    return new Float32Array(bytes.buffer, bytes.byteOffset, count);
  const out = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32':
      // unaligned: a byte copy, bit-exact (NaN payloads included) on little-endian hosts
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
      throw new RangeError(`dtype ${dtype} is not supported`);
  }
}

/** Bytes per element of the dtypes we read. */
export const DTYPE_BYTES: Readonly<Record<string, number>> = { F32: 4, F64: 8, BF16: 2, F16: 2 };

/** A tensor's bytes (as {@link readTensorBytes} gives them) as float32. */
export function decodeTensor(entry: TensorEntry, bytes: Uint8Array): Float32Array {
  return widen(
    entry.dtype,
    bytes,
    entry.shape.reduce((a, b) => a * b, 1),
  );
}

/**
 * Validate a parsed header against itself and the file's size: every entry has
 * a supported dtype, a shape of non-negative integers and data_offsets that
 * span exactly shape × dtype bytes inside the file.
 */
function headerEntries(
  header: unknown,
  dataStart: number,
  fileSize: number,
  source: string,
): { entries: TensorEntry[]; metadata: Record<string, string> } {
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    throw new ModelDirectoryError(`${source}: header is not a JSON object`, { source });
  const entries: TensorEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header as Record<string, any>)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const where = `${source}: tensor ${name}`;
    const bad = (what: string): never => {
      throw new ModelDirectoryError(`${where}: ${what}`, { source, field: name });
    };
    const shape = entry?.shape;
    const offsets = entry?.data_offsets;
    if (!Array.isArray(shape) || !Array.isArray(offsets) || offsets.length !== 2)
      bad('header entry needs shape and data_offsets');
    if (!shape.every((d: unknown) => Number.isInteger(d) && (d as number) >= 0))
      bad(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    const width = DTYPE_BYTES[entry.dtype];
    if (width === undefined)
      bad(`dtype ${entry.dtype} is not supported; expected F32, F16, BF16 or F64`);
    const [begin, end] = offsets as [number, number];
    if (!Number.isInteger(begin) || !Number.isInteger(end) || begin < 0 || end < begin)
      bad(`data_offsets ${JSON.stringify(offsets)} are not an increasing pair of byte offsets`);
    const count = shape.reduce((a: number, b: number) => a * b, 1);
    if (end - begin !== count * width!)
      bad(
        `data_offsets span ${end - begin} bytes but shape ${JSON.stringify(shape)} of ${entry.dtype} needs ${count * width!}`,
      );
    if (dataStart + end > fileSize)
      bad(`data runs past the end of the file (byte ${dataStart + end} of ${fileSize})`);
    entries.push({
      name,
      file: source,
      dtype: entry.dtype,
      shape,
      offset: dataStart + begin,
      byteLength: end - begin,
    });
  }
  return { entries, metadata };
}

/** The header length field, checked against the file size. */
function headerLength(prefix: Uint8Array, fileSize: number, source: string): number {
  if (fileSize < 8)
    throw new ModelDirectoryError(`${source}: file is ${fileSize} bytes, too short for a header`, {
      source,
    });
  const headerLen = Number(new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true));
  if (8 + headerLen > fileSize)
    throw new ModelDirectoryError(
      `${source}: header length ${headerLen} runs past the end of the file (${fileSize} bytes)`,
      { source },
    );
  return headerLen;
}

function parseHeaderJson(bytes: Uint8Array, source: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new ModelDirectoryError(`${source}: header is not valid JSON`, { source }, { cause: e });
  }
}

/** Parse a safetensors byte buffer; `source` names the file in errors. */
export function parseSafetensors(bytes: Uint8Array, source = 'safetensors'): SafetensorsFile {
  const headerLen = headerLength(bytes, bytes.byteLength, source);
  const header = parseHeaderJson(bytes.subarray(8, 8 + headerLen), source);
  const { entries, metadata } = headerEntries(header, 8 + headerLen, bytes.byteLength, source);
  const tensors = new Map<string, HostTensor>();
  const dtypes = new Map<string, string>();
  for (const e of entries) {
    tensors.set(e.name, {
      shape: e.shape,
      data: decodeTensor(e, bytes.subarray(e.offset, e.offset + e.byteLength)),
    });
    dtypes.set(e.name, e.dtype);
  }
  return { tensors, dtypes, metadata };
}

/**
 * A safetensors file of float32 tensors (in the given order) as the byte
 * pieces to write one after another: the header, then a view of each
 * tensor's own bytes — nothing copied, no size limit from one buffer. The
 * views read the tensors' arrays at write time: write before changing them.
 */
export function safetensorsParts(
  tensors: Iterable<[string, HostTensor]>,
  metadata: Record<string, string> = { format: 'pt' },
): Uint8Array[] {
  const header: Record<string, unknown> = { __metadata__: metadata };
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length)
      throw new RangeError(
        `tensor ${name}: shape ${JSON.stringify(t.shape)} does not match ${t.data.length} values`,
      );
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * count] };
    parts.push(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    offset += 4 * count;
  }
  let json = JSON.stringify(header);
  // pad the header with spaces so the data starts 8-byte aligned, as the reference writer does
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const head = new Uint8Array(8 + headerBytes.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  head.set(headerBytes, 8);
  return [head, ...parts];
}

/** Serialise float32 tensors (in the given order) to one safetensors byte buffer. */
export function serializeSafetensors(
  tensors: Iterable<[string, HostTensor]>,
  metadata: Record<string, string> = { format: 'pt' },
): Uint8Array {
  const parts = safetensorsParts(tensors, metadata);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * Shard names as Hugging Face writes them: `model.safetensors` stays one file
 * when it fits; otherwise `model-00001-of-00003.safetensors`, ….
 */
export function shardFileName(base: string, index: number, count: number): string {
  if (count === 1) return `${base}.safetensors`;
  const pad = (n: number) => String(n).padStart(5, '0');
  return `${base}-${pad(index + 1)}-of-${pad(count)}.safetensors`;
}

/**
 * Splits tensors (in order) into safetensors files of at most `maxBytes` of
 * data each (a tensor larger than that gets a file of its own), named by
 * {@link shardFileName}; each file as {@link safetensorsParts}. One buffer in
 * Node holds at most 4 GiB, and a 0.6B model's AdamW moments are 4.8 GB.
 */
export function shardSafetensors(
  base: string,
  tensors: Iterable<[string, HostTensor]>,
  maxBytes = 2 ** 31,
): Map<string, Uint8Array[]> {
  const groups: [string, HostTensor][][] = [[]];
  let size = 0;
  for (const entry of tensors) {
    const bytes = entry[1].data.byteLength;
    if (groups.at(-1)!.length > 0 && size + bytes > maxBytes) {
      groups.push([]);
      size = 0;
    }
    groups.at(-1)!.push(entry);
    size += bytes;
  }
  return new Map(
    groups.map((g, i) => [shardFileName(base, i, groups.length), safetensorsParts(g)]),
  );
}

/**
 * The tensors of `base`'s shards among `files` (one `base.safetensors` or
 * `base-0000i-of-0000n.safetensors`, all n present), merged by name.
 */
export function parseShardedSafetensors(
  base: string,
  files: Record<string, Uint8Array>,
): Map<string, HostTensor> | null {
  const single = files[`${base}.safetensors`];
  if (single) return parseSafetensors(single, `${base}.safetensors`).tensors;
  const shape = /^-(\d{5})-of-(\d{5})\.safetensors$/;
  const shards = Object.keys(files)
    .filter((f) => f.startsWith(base))
    .map((f) => [f, shape.exec(f.slice(base.length))] as const)
    .filter((x): x is readonly [string, RegExpExecArray] => x[1] !== null);
  if (shards.length === 0) return null;
  const count = Number(shards[0]![1][2]);
  for (let i = 0; i < count; i++) {
    const name = shardFileName(base, i, count);
    if (!files[name])
      throw new ModelDirectoryError(`${name} is missing (${base} has ${count} shards)`, {
        source: name,
      });
  }
  const out = new Map<string, HostTensor>();
  for (let i = 0; i < count; i++) {
    const name = shardFileName(base, i, count);
    for (const [k, t] of parseSafetensors(files[name]!, name).tensors) out.set(k, t);
  }
  return out;
}

/**
 * Read and check one file's header: dtypes, shapes and offsets against the
 * file's size. Reads only the first 8 + header-length bytes.
 */
export async function readSafetensorsHeader(
  file: string,
): Promise<{ entries: TensorEntry[]; metadata: Record<string, string> }> {
  const fh = await fs.open(file, 'r');
  try {
    const { size } = await fh.stat();
    const prefix = new Uint8Array(8);
    await fh.read(prefix, 0, Math.min(8, size), 0);
    const headerLen = headerLength(prefix, size, file);
    const headerBytes = new Uint8Array(headerLen);
    await readFully(fh, headerBytes, 8);
    return headerEntries(parseHeaderJson(headerBytes, file), 8 + headerLen, size, file);
  } finally {
    await fh.close();
  }
}

/** fh.read until `into` is full (a single read returns at most 2 GiB). */
async function readFully(fh: fs.FileHandle, into: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < into.byteLength) {
    const want = Math.min(into.byteLength - done, 1 << 30);
    const { bytesRead } = await fh.read(into, done, want, position + done);
    if (bytesRead === 0) throw new RangeError(`unexpected end of file at byte ${position + done}`);
    done += bytesRead;
  }
}

/** Read one .safetensors file. */
export async function readSafetensorsFile(file: string): Promise<SafetensorsFile> {
  const { entries, metadata } = await readSafetensorsHeader(file);
  const catalog: WeightsCatalog = {
    files: [file],
    index: null,
    tensors: new Map(entries.map((e) => [e.name, e])),
    metadata,
  };
  return { ...(await readCatalog(catalog)), metadata };
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
 * Find and check a directory's weights without reading them: `model.safetensors`,
 * or the shards listed in `model.safetensors.index.json` (`weight_map: {name:
 * shard file}`). Every shard the index names must exist and hold the tensors
 * the index puts there; every header must be consistent with its file's size.
 */
export async function inspectWeights(dir: string): Promise<WeightsCatalog> {
  const indexPath = path.join(dir, SAFETENSORS_INDEX_FILE);
  if (await exists(indexPath)) {
    let index: any;
    try {
      index = JSON.parse(await fs.readFile(indexPath, 'utf8'));
    } catch (e) {
      throw new ModelDirectoryError(
        `${indexPath}: not valid JSON`,
        { source: indexPath },
        { cause: e },
      );
    }
    const weightMap = index?.weight_map;
    if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
      throw new ModelDirectoryError(`${indexPath}: missing weight_map object`, {
        source: indexPath,
        field: 'weight_map',
      });
    }
    const byShard = new Map<string, string[]>();
    for (const [name, shard] of Object.entries(weightMap as Record<string, unknown>)) {
      if (typeof shard !== 'string' || shard === '' || path.basename(shard) !== shard)
        throw new ModelDirectoryError(
          `${indexPath}: weight_map.${name} = ${JSON.stringify(shard)}; expected a file name in ${dir}`,
          { source: indexPath, field: `weight_map.${name}` },
        );
      byShard.set(shard, [...(byShard.get(shard) ?? []), name]);
    }
    // every shard present before any header is read: a missing one is named at once
    for (const [shard, names] of byShard) {
      if (!(await exists(path.join(dir, shard))))
        throw new ModelDirectoryError(
          `${indexPath}: weight_map.${names[0]} names ${shard} (${names.length} tensor${names.length === 1 ? '' : 's'}), but ${path.join(dir, shard)} does not exist`,
          { source: indexPath, field: `weight_map.${names[0]}` },
        );
    }
    const tensors = new Map<string, TensorEntry>();
    const files: string[] = [];
    for (const [shard, names] of byShard) {
      const file = path.join(dir, shard);
      const entries = new Map((await readSafetensorsHeader(file)).entries.map((e) => [e.name, e]));
      for (const name of names) {
        const entry = entries.get(name);
        if (entry === undefined)
          throw new ModelDirectoryError(
            `${indexPath}: weight_map lists ${name} in ${shard}, but that shard does not contain it`,
            { source: indexPath, field: `weight_map.${name}` },
          );
        tensors.set(name, entry);
      }
      files.push(file);
    }
    return { files, index: indexPath, tensors, metadata: index.metadata ?? {} };
  }
  const single = path.join(dir, SAFETENSORS_FILE);
  if (!(await exists(single))) {
    throw new ModelDirectoryError(
      `${dir}: neither ${SAFETENSORS_FILE} nor ${SAFETENSORS_INDEX_FILE} found`,
      { source: dir },
    );
  }
  const { entries, metadata } = await readSafetensorsHeader(single);
  return {
    files: [single],
    index: null,
    tensors: new Map(entries.map((e) => [e.name, e])),
    metadata,
  };
}

/**
 * The raw bytes of the catalog's tensors (all, or those named), one positioned
 * read each; decode them with {@link decodeTensor}.
 */
export async function readTensorBytes(
  catalog: WeightsCatalog,
  names: Iterable<string> = catalog.tensors.keys(),
): Promise<Map<string, Uint8Array>> {
  const byFile = new Map<string, TensorEntry[]>();
  for (const name of names) {
    const e = catalog.tensors.get(name);
    if (e === undefined) throw new RangeError(`no tensor ${name} in the catalog`);
    byFile.set(e.file, [...(byFile.get(e.file) ?? []), e]);
  }
  const out = new Map<string, Uint8Array>();
  for (const [file, entries] of byFile) {
    const fh = await fs.open(file, 'r');
    try {
      // in file order: sequential reads
      for (const e of entries.sort((a, b) => a.offset - b.offset)) {
        const bytes = new Uint8Array(e.byteLength);
        await readFully(fh, bytes, e.offset);
        out.set(e.name, bytes);
      }
    } finally {
      await fh.close();
    }
  }
  return out;
}

async function readCatalog(
  catalog: WeightsCatalog,
): Promise<{ tensors: Map<string, HostTensor>; dtypes: Map<string, string> }> {
  const bytes = await readTensorBytes(catalog);
  const tensors = new Map<string, HostTensor>();
  const dtypes = new Map<string, string>();
  for (const [name, e] of catalog.tensors) {
    tensors.set(name, { shape: e.shape, data: decodeTensor(e, bytes.get(name)!) });
    bytes.delete(name);
    dtypes.set(name, e.dtype);
  }
  return { tensors, dtypes };
}

/** Read all weights of a model directory ({@link inspectWeights}, then every tensor widened). */
export async function readWeights(dir: string): Promise<SafetensorsFile> {
  const catalog = await inspectWeights(dir);
  return {
    ...(await readCatalog(catalog)),
    metadata: catalog.metadata as Record<string, string>,
  };
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
