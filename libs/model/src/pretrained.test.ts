import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@rxrl/core';
import { loadPretrained, savePretrained } from './pretrained';
import { readSafetensorsFile, readWeights } from './safetensors';
import { CausalLM } from './causalLM';
import { presetConfig } from './modelConfig';
import { FIXTURE_ARCHS, FIXTURE_DIR } from '../test/fixtures';

/** Bit-exact equality of two float32 arrays (Buffer.equals: fast, unlike a deep toEqual). */
function sameBits(a: { data: Float32Array } | undefined, b: { data: Float32Array }): boolean {
  if (a === undefined) return false;
  const view = (t: { data: Float32Array }) =>
    Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return view(a).equals(view(b));
}

describe('loadPretrained / savePretrained', () => {
  let tmp: string;
  beforeAll(async () => {
    await useBackend('wasm');
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'rxrl-pretrained-'));
  });
  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  for (const arch of FIXTURE_ARCHS) {
    it(`${arch}: load → save → load is bit-exact and keeps HF names and layouts`, async () => {
      const src = path.join(FIXTURE_DIR, arch);
      const original = await readWeights(src);
      const a = await loadPretrained(src);
      const out = path.join(tmp, arch);
      const files = await savePretrained(a, out);
      expect(files).toEqual(['config.json', 'model.safetensors']);
      const b = await loadPretrained(out);
      const wa = a.exportHfWeights();
      const wb = b.exportHfWeights();
      expect([...wb.keys()]).toEqual([...wa.keys()]);
      for (const [name, t] of wa) expect(sameBits(wb.get(name), t), name).toBe(true);
      // what we saved is the checkpoint's values widened to float32, under the same (prefixed) names
      const saved = await readSafetensorsFile(path.join(out, 'model.safetensors'));
      for (const [name, t] of original.tensors) {
        if (name.endsWith('.attn.bias')) continue; // GPT-2 mask buffer, not a weight
        const ours = saved.tensors.get(arch === 'gpt2' ? `transformer.${name}` : name);
        expect(ours?.shape, name).toEqual(t.shape);
        expect(sameBits(ours, t), name).toBe(true);
      }
      expect(saved.tensors.has('lm_head.weight')).toBe(!a.config.tieWordEmbeddings);
      expect([...saved.dtypes.values()].every((d) => d === 'F32')).toBe(true);
      a.dispose();
      b.dispose();
    });
  }

  it('saves sharded when asked and loads the shards back to the same logits', async () => {
    const model = CausalLM.create(presetConfig('qwen2', 'tiny', 50), { seed: 3 });
    const out = path.join(tmp, 'sharded');
    const files = await savePretrained(model, out, { maxShardBytes: 60_000 });
    expect(files.at(-1)).toBe('model.safetensors.index.json');
    expect(files.length).toBeGreaterThan(3);
    const back = await loadPretrained(out, { trainable: false });
    expect(back.trainableVariables().size).toBe(0);
    const ids = tf.tensor2d([[1, 2, 3, 4]], undefined, 'int32');
    const [la, lb] = [model.logits(ids), back.logits(ids)];
    expect(Array.from(lb.dataSync())).toEqual(Array.from(la.dataSync()));
    tf.dispose([ids, la, lb]);
    model.dispose();
    back.dispose();
  });

  it('errors name the missing or misshaped tensor', async () => {
    const model = CausalLM.create(presetConfig('llama', 'tiny', 40), { seed: 1 });
    const out = path.join(tmp, 'broken');
    await savePretrained(model, out);
    const cfgPath = path.join(out, 'config.json');
    const cfg = JSON.parse(await fs.readFile(cfgPath, 'utf8'));
    await fs.writeFile(cfgPath, JSON.stringify({ ...cfg, intermediate_size: 64 }));
    await expect(loadPretrained(out)).rejects.toThrow(
      /tensor model.layers.0.mlp.gate_proj.weight has shape \[128,64\], expected \[64,64\]/,
    );
    await fs.writeFile(cfgPath, JSON.stringify({ ...cfg, num_hidden_layers: 3 }));
    await expect(loadPretrained(out)).rejects.toThrow(
      /missing tensor model.layers.2.input_layernorm.weight/,
    );
    await fs.writeFile(cfgPath, JSON.stringify({ ...cfg, num_hidden_layers: 1 }));
    await expect(loadPretrained(out)).rejects.toThrow(/unexpected tensor model.layers.1/);
    model.dispose();
  });
});
