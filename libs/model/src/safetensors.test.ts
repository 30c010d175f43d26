import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  parseSafetensors,
  parseShardedSafetensors,
  readWeights,
  safetensorsParts,
  serializeSafetensors,
  shardSafetensors,
  writeWeights,
  type HostTensor,
} from './safetensors';

/** A safetensors file built byte by byte, independent of our writer. */
function handMade(
  entries: { name: string; dtype: string; shape: number[]; bytes: number[] }[],
): Uint8Array {
  const header: Record<string, unknown> = {};
  let off = 0;
  for (const e of entries) {
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [off, off + e.bytes.length] };
    off += e.bytes.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + off);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(
    entries.flatMap((e) => e.bytes),
    8 + json.length,
  );
  return out;
}

const le16 = (...xs: number[]) => xs.flatMap((x) => [x & 0xff, x >> 8]);

describe('parseSafetensors', () => {
  it('widens BF16 and F16 exactly (normal, subnormal, negative, infinite values)', () => {
    const file = handMade([
      // bf16: 1.0, -2.0, 0x3EAB ≈ 0.333984375, 0x7F80 = +inf
      { name: 'b', dtype: 'BF16', shape: [2, 2], bytes: le16(0x3f80, 0xc000, 0x3eab, 0x7f80) },
      // f16: 1.0, 0x3555 = 0.333251953125, 0x0001 = 2^-24 (smallest subnormal), 0xFC00 = -inf, 0xC500 = -5
      { name: 'h', dtype: 'F16', shape: [5], bytes: le16(0x3c00, 0x3555, 0x0001, 0xfc00, 0xc500) },
      // f32: 0.1f little-endian = 0x3DCCCCCD
      { name: 'f', dtype: 'F32', shape: [1], bytes: [0xcd, 0xcc, 0xcc, 0x3d] },
    ]);
    const { tensors, dtypes } = parseSafetensors(file);
    expect(Array.from(tensors.get('b')!.data)).toEqual([1, -2, 0.333984375, Infinity]);
    expect(tensors.get('b')!.shape).toEqual([2, 2]);
    expect(Array.from(tensors.get('h')!.data)).toEqual([
      1,
      0.333251953125,
      2 ** -24,
      -Infinity,
      -5,
    ]);
    expect(tensors.get('f')!.data[0]).toBe(Math.fround(0.1));
    expect(dtypes.get('h')).toBe('F16');
  });

  it('rejects unsupported dtypes, inconsistent offsets and truncated files with the tensor named', () => {
    expect(() =>
      parseSafetensors(
        handMade([{ name: 'ids', dtype: 'I64', shape: [1], bytes: [1, 0, 0, 0, 0, 0, 0, 0] }]),
        'x.safetensors',
      ),
    ).toThrow(/x.safetensors: tensor ids: dtype I64 is not supported/);
    expect(() =>
      parseSafetensors(handMade([{ name: 'w', dtype: 'F32', shape: [2], bytes: [0, 0, 0, 0] }])),
    ).toThrow(/tensor w: data_offsets span 4 bytes but shape \[2\] of F32 needs 8/);
    const ok = handMade([{ name: 'w', dtype: 'F32', shape: [1], bytes: [0, 0, 128, 63] }]);
    expect(() => parseSafetensors(ok.subarray(0, ok.length - 2))).toThrow(
      /tensor w: data runs past the end/,
    );
    expect(() => parseSafetensors(new Uint8Array(4))).toThrow(/too short/);
  });
});

describe('serializeSafetensors', () => {
  it('writes an 8-byte aligned header with F32 entries that parse back bit-exactly', () => {
    const w: HostTensor = {
      shape: [2, 3],
      data: Float32Array.from([1.5, -0, 3e-39, NaN, 1e30, -7]),
    };
    const bytes = serializeSafetensors([
      ['w', w],
      ['b', { shape: [1], data: Float32Array.from([2]) }],
    ]);
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + headerLen) % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
    expect(header.w).toEqual({ dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] });
    expect(header.b).toEqual({ dtype: 'F32', shape: [1], data_offsets: [24, 28] });
    const back = parseSafetensors(bytes).tensors.get('w')!;
    const bytesOf = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    expect(bytesOf(back.data)).toEqual(bytesOf(w.data));
  });
});

describe('safetensorsParts / shardSafetensors', () => {
  const t = (n: number, start: number): HostTensor => ({
    shape: [n],
    data: Float32Array.from({ length: n }, (_, i) => start + i),
  });
  const join = (parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => Array.from(p)));

  it('parts are the header and views of the tensors themselves (nothing copied)', () => {
    const a = t(3, 0);
    const parts = safetensorsParts([['a', a]]);
    expect(parts).toHaveLength(2);
    expect(parts[1]!.buffer).toBe(a.data.buffer);
    expect(join(parts)).toEqual(serializeSafetensors([['a', a]]));
  });

  it('splits at maxBytes in order, names shards as Hugging Face does, and merges them back', () => {
    // 16 + 16 bytes fit a 40-byte shard, the 12-byte third opens a second, the 48-byte one stands alone
    const tensors: [string, HostTensor][] = [
      ['x', t(4, 0)],
      ['y', t(4, 10)],
      ['z', t(3, 20)],
      ['big', t(12, 30)],
    ];
    const shards = shardSafetensors('optimizer', tensors, 40);
    expect([...shards.keys()]).toEqual([
      'optimizer-00001-of-00003.safetensors',
      'optimizer-00002-of-00003.safetensors',
      'optimizer-00003-of-00003.safetensors',
    ]);
    const files = Object.fromEntries([...shards].map(([k, v]) => [k, join(v)]));
    expect([
      ...parseSafetensors(files['optimizer-00001-of-00003.safetensors']!).tensors.keys(),
    ]).toEqual(['x', 'y']);
    const merged = parseShardedSafetensors('optimizer', {
      ...files,
      'other.json': new Uint8Array(1),
    })!;
    expect([...merged.keys()].sort()).toEqual(['big', 'x', 'y', 'z']);
    expect(Array.from(merged.get('big')!.data)).toEqual(Array.from(t(12, 30).data));
    // one file when everything fits, under the plain name
    expect([...shardSafetensors('policy', tensors).keys()]).toEqual(['policy.safetensors']);
    // a missing shard is named
    delete files['optimizer-00002-of-00003.safetensors'];
    expect(() => parseShardedSafetensors('optimizer', files)).toThrow(
      /optimizer-00002-of-00003\.safetensors is missing \(optimizer has 3 shards\)/,
    );
    expect(parseShardedSafetensors('policy', files)).toBeNull();
  });
});

describe('readWeights / writeWeights', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rxrl-st-'));
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('shards over maxShardBytes with an index that readWeights follows', async () => {
    const tensors = new Map<string, HostTensor>();
    for (let i = 0; i < 5; i++)
      tensors.set(`t${i}`, { shape: [4], data: Float32Array.from([i, i + 0.5, -i, 1 / (i + 1)]) });
    const files = await writeWeights(dir, tensors, 40); // 16 bytes each: two per shard
    expect(files).toEqual([
      'model-00001-of-00003.safetensors',
      'model-00002-of-00003.safetensors',
      'model-00003-of-00003.safetensors',
      'model.safetensors.index.json',
    ]);
    const index = JSON.parse(
      await fs.readFile(path.join(dir, 'model.safetensors.index.json'), 'utf8'),
    );
    expect(index.weight_map.t4).toBe('model-00003-of-00003.safetensors');
    expect(index.metadata.total_size).toBe(80);
    const back = await readWeights(dir);
    expect([...back.tensors.keys()].sort()).toEqual(['t0', 't1', 't2', 't3', 't4']);
    expect(Array.from(back.tensors.get('t3')!.data)).toEqual(Array.from(tensors.get('t3')!.data));
  });

  it('names the directory when there are no weights', async () => {
    const empty = await fs.mkdtemp(path.join(os.tmpdir(), 'rxrl-st-empty-'));
    await expect(readWeights(empty)).rejects.toThrow(
      /neither model.safetensors nor model.safetensors.index.json/,
    );
    await fs.rm(empty, { recursive: true });
  });
});
