import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RxrlConfigError } from '@rxrl/core/base';
import { useBackend } from '@rxrl/core';
import { CausalLM } from './causalLM';
import { ModelDirectoryError } from './errors';
import { presetConfig } from './modelConfig';
import { inspectPretrained, loadPretrained, savePretrained } from './pretrained';
import { readSafetensorsHeader } from './safetensors';

/**
 * Bad model directories: each is refused with a ModelDirectoryError (a
 * configuration error: the CLI exits 2) naming the file and the field, from
 * config.json, tokenizer.json, the index and the safetensors headers alone.
 */

/** Write a safetensors file by hand: header from `entries`, data region `dataBytes` long (sparse). */
async function writeHeaderOnly(
  file: string,
  entries: { name: string; dtype: string; shape: number[] }[],
): Promise<number> {
  const width: Record<string, number> = { F32: 4, BF16: 2, F16: 2 };
  const header: Record<string, unknown> = {};
  let off = 0;
  for (const e of entries) {
    const n = e.shape.reduce((a, b) => a * b, 1) * width[e.dtype]!;
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [off, off + n] };
    off += n;
  }
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  await fs.writeFile(file, Buffer.concat([prefix, json]));
  // the data region is a hole: no disk, and reading it would take seconds and gigabytes
  await fs.truncate(file, 8 + json.length + off);
  return 8 + json.length + off;
}

describe('bad model directories', () => {
  let tmp: string;
  let good: string;
  const cfg = presetConfig('llama', 'tiny', 40);
  beforeAll(async () => {
    await useBackend('wasm');
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'rxrl-bad-model-'));
    good = path.join(tmp, 'good');
    const model = CausalLM.create(cfg, { seed: 1 });
    await savePretrained(model, good);
    model.dispose();
  });
  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  /** A copy of the good directory, `edit`ed. */
  async function variant(name: string, edit: (dir: string) => Promise<void>): Promise<string> {
    const dir = path.join(tmp, name);
    await fs.cp(good, dir, { recursive: true });
    await edit(dir);
    return dir;
  }

  /** Both inspectPretrained and loadPretrained refuse `dir` with this message, file and field. */
  async function refuses(dir: string, message: RegExp, source: string, field?: string) {
    for (const attempt of [inspectPretrained, loadPretrained]) {
      const err = await attempt(dir).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ModelDirectoryError);
      expect(err).toBeInstanceOf(RxrlConfigError);
      expect((err as Error).message).toMatch(message);
      expect((err as ModelDirectoryError).location.source).toBe(source);
      if (field !== undefined) expect((err as ModelDirectoryError).location.field).toBe(field);
    }
  }

  it('the good directory inspects to its config, dtype and parameter count', async () => {
    const info = await inspectPretrained(good);
    expect(info.dtype).toBe('F32');
    // tiny llama, vocab 40: embed + head 2·40·64, per layer 4·64·64 (q, o; k, v at 2 kv heads of 16: 64·32 each)
    // + 3·64·128 (mlp) + 2·64 (norms), 2 layers, final norm 64
    const perLayer = 2 * 64 * 64 + 2 * 64 * 32 + 3 * 64 * 128 + 2 * 64;
    expect(info.parameterCount).toBe(2 * 40 * 64 + 2 * perLayer + 64);
    expect(info.names.size).toBe(2 + 2 * 9 + 1);
    expect(info.tokenizer).toBeNull();
  });

  it('an architecture we do not implement: names config.json and model_type, before looking for weights', async () => {
    const dir = path.join(tmp, 'mistral');
    await fs.mkdir(dir);
    // no weights at all: the config is refused first
    await fs.writeFile(
      path.join(dir, 'config.json'),
      JSON.stringify({ model_type: 'mistral', architectures: ['MistralForCausalLM'] }),
    );
    await refuses(
      dir,
      new RegExp(
        `^${path.join(dir, 'config.json')}: model_type = "mistral"; expected one of llama, qwen2, qwen3, gpt2$`,
      ),
      path.join(dir, 'config.json'),
      'model_type',
    );
  });

  it('a shard the index names but the directory lacks: names the index, the entry and the file', async () => {
    const dir = path.join(tmp, 'sharded');
    const model = CausalLM.create(cfg, { seed: 1 });
    const files = await savePretrained(model, dir, { maxShardBytes: 40_000 });
    model.dispose();
    const index = JSON.parse(
      await fs.readFile(path.join(dir, 'model.safetensors.index.json'), 'utf8'),
    );
    const missing = files[1]!;
    const first = Object.keys(index.weight_map).find((k) => index.weight_map[k] === missing)!;
    const count = Object.values(index.weight_map).filter((f) => f === missing).length;
    await fs.rm(path.join(dir, missing));
    await refuses(
      dir,
      new RegExp(
        `model.safetensors.index.json: weight_map.${first.replaceAll('.', '\\.')} names ${missing} \\(${count} tensors?\\), but .*${missing} does not exist`,
      ),
      path.join(dir, 'model.safetensors.index.json'),
      `weight_map.${first}`,
    );
  });

  it('a tokenizer whose ids exceed the vocabulary: names tokenizer.json, the token and vocab_size', async () => {
    const vocab = Object.fromEntries(Array.from({ length: 38 }, (_, i) => [`t${i}`, i]));
    const tokenizer = {
      model: { type: 'BPE', vocab, merges: [] },
      added_tokens: [
        { id: 38, content: '<s>', special: true },
        { id: 45, content: '</s>', special: true },
      ],
    };
    const dir = await variant('big-tokenizer', (d) =>
      fs.writeFile(path.join(d, 'tokenizer.json'), JSON.stringify(tokenizer)),
    );
    await refuses(
      dir,
      /tokenizer.json: added_tokens\[1\] \("<\/s>"\) has id 45, past the model's vocabulary \(vocab_size 40 in .*config.json\)/,
      path.join(dir, 'tokenizer.json'),
      'added_tokens[1] ("</s>")',
    );
    // the same tokenizer elsewhere, named by tokenizerDir, is checked too; one that fits passes
    await expect(inspectPretrained(good, { tokenizerDir: dir })).rejects.toThrow(/has id 45/);
    tokenizer.added_tokens[1]!.id = 39;
    await fs.writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
    const info = await inspectPretrained(dir);
    expect(info.tokenizer).toEqual({ file: path.join(dir, 'tokenizer.json'), maxId: 39 });
    // a vocab entry past the end is named by its token
    vocab['t40'] = 40;
    await fs.writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
    await expect(inspectPretrained(dir)).rejects.toThrow(/model.vocab\["t40"\] has id 40/);
  });

  it('mixed dtypes: names the file, the tensor and both dtypes, without reading data', async () => {
    const dir = await variant('mixed', async (d) => {
      const { entries } = await readSafetensorsHeader(path.join(d, 'model.safetensors'));
      // one tensor in BF16, and a 2.1 GB data region (an ignored buffer): the old whole-file read failed on it
      const pad = { name: 'model.layers.0.self_attn.rotary_emb.inv_freq', dtype: 'F32' };
      const file = path.join(d, 'model.safetensors');
      const withPad = [...entries, { ...pad, shape: [540_000_000] }];
      await writeHeaderOnly(
        file,
        withPad.map((e) => ({
          name: e.name,
          dtype: e.name === 'model.layers.1.mlp.up_proj.weight' ? 'BF16' : e.dtype,
          shape: e.shape,
        })),
      );
    });
    expect((await fs.stat(path.join(dir, 'model.safetensors'))).size).toBeGreaterThan(2 ** 31);
    await refuses(
      dir,
      /model.safetensors: tensor model.layers.1.mlp.up_proj.weight is BF16, but model.embed_tokens.weight \(model.safetensors\) is F32; a checkpoint's weights must share one dtype/,
      path.join(dir, 'model.safetensors'),
      'model.layers.1.mlp.up_proj.weight.dtype',
    );
  });

  it('a tensor whose shape disagrees with config.json: names the file, the tensor and both shapes, without reading data', async () => {
    const dir = await variant('misshaped', async (d) => {
      const { entries } = await readSafetensorsHeader(path.join(d, 'model.safetensors'));
      // gate_proj declared [128, 4.2M] F32: 2.1 GB of data no loader should touch to find this out
      await writeHeaderOnly(
        path.join(d, 'model.safetensors'),
        entries.map((e) => ({
          name: e.name,
          dtype: 'F32',
          shape: e.name === 'model.layers.0.mlp.gate_proj.weight' ? [128, 4_200_000] : e.shape,
        })),
      );
    });
    const t0 = performance.now();
    await refuses(
      dir,
      /model.safetensors: tensor model.layers.0.mlp.gate_proj.weight has shape \[128,4200000\], expected \[128,64\] from config.json/,
      path.join(dir, 'model.safetensors'),
      'model.layers.0.mlp.gate_proj.weight',
    );
    // headers only: far below the time reading (let alone widening) 2.1 GB takes
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('in a sharded checkpoint, a misshaped tensor names its shard; a missing one names the index', async () => {
    const dir = path.join(tmp, 'sharded-misshaped');
    const model = CausalLM.create(cfg, { seed: 1 });
    await savePretrained(model, dir, { maxShardBytes: 40_000 });
    model.dispose();
    const indexPath = path.join(dir, 'model.safetensors.index.json');
    const index = JSON.parse(await fs.readFile(indexPath, 'utf8'));
    const gate = 'model.layers.1.mlp.gate_proj.weight';
    const shard = index.weight_map[gate] as string;
    expect(shard).not.toBe(index.weight_map['model.embed_tokens.weight']);
    const cfgPath = path.join(dir, 'config.json');
    const hf = JSON.parse(await fs.readFile(cfgPath, 'utf8'));
    await fs.writeFile(cfgPath, JSON.stringify({ ...hf, intermediate_size: 96 }));
    await refuses(
      dir,
      /tensor model.layers.0.mlp.gate_proj.weight has shape \[128,64\], expected \[96,64\]/,
      path.join(dir, index.weight_map['model.layers.0.mlp.gate_proj.weight']),
      'model.layers.0.mlp.gate_proj.weight',
    );
    await fs.writeFile(cfgPath, JSON.stringify(hf));
    delete index.weight_map[gate];
    await fs.writeFile(indexPath, JSON.stringify(index));
    await refuses(dir, new RegExp(`missing tensor ${gate}`), indexPath, gate);
  });

  it('a truncated shard: names the file and the tensor whose data runs past its end', async () => {
    const dir = await variant('truncated', async (d) => {
      const file = path.join(d, 'model.safetensors');
      await fs.truncate(file, (await fs.stat(file)).size - 4);
    });
    await refuses(
      dir,
      /model.safetensors: tensor .*: data runs past the end of the file/,
      path.join(dir, 'model.safetensors'),
    );
  });
});
