import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@rxrl/core';
import { initModelDirectory, type TokenizerFilesWriter } from './initModel';
import { loadPretrained } from './pretrained';

describe('initModelDirectory', () => {
  let tmp: string;
  beforeAll(async () => {
    await useBackend('wasm');
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'rxrl-init-'));
  });
  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('writes a loadable directory whose config carries the tokenizer vocabulary and special ids', async () => {
    const written: string[] = [];
    const tokenizer: TokenizerFilesWriter = {
      vocabSize: 103,
      bosTokenId: 1,
      eosTokenId: 2,
      padTokenId: 0,
      async writeHfFiles(dir) {
        written.push(dir);
        await fs.writeFile(path.join(dir, 'tokenizer.json'), '{}');
      },
    };
    const out = path.join(tmp, 'qwen3-tiny');
    await initModelDirectory({ arch: 'qwen3', preset: 'tiny', out, seed: 7 }, tokenizer);
    expect((await fs.readdir(out)).sort()).toEqual([
      'config.json',
      'model.safetensors',
      'tokenizer.json',
    ]);
    expect(written).toEqual([out]);
    const cfg = JSON.parse(await fs.readFile(path.join(out, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({
      model_type: 'qwen3',
      vocab_size: 103,
      hidden_size: 64,
      num_hidden_layers: 2,
      bos_token_id: 1,
      eos_token_id: 2,
      pad_token_id: 0,
    });
    const model = await loadPretrained(out);
    const logits = model.logits(tf.tensor2d([[1, 5, 9]], undefined, 'int32'));
    expect(logits.shape).toEqual([1, 3, 103]);
    expect(Array.from(logits.dataSync()).every(Number.isFinite)).toBe(true);
    model.dispose();
    // the same seed writes the same bytes
    const again = path.join(tmp, 'again');
    await initModelDirectory({ arch: 'qwen3', preset: 'tiny', out: again, seed: 7 }, tokenizer);
    const [a, b] = await Promise.all([
      fs.readFile(path.join(out, 'model.safetensors')),
      fs.readFile(path.join(again, 'model.safetensors')),
    ]);
    expect(a.equals(b)).toBe(true);
  });

  it('explicit vocab_size without a tokenizer; errors name the option', async () => {
    const out = path.join(tmp, 'gpt2');
    const hf = await initModelDirectory({ arch: 'gpt2', preset: 'tiny', out, vocab_size: 50 });
    expect(hf['n_embd']).toBe(64);
    expect(JSON.parse(await fs.readFile(path.join(out, 'config.json'), 'utf8')).vocab_size).toBe(
      50,
    );
    await expect(initModelDirectory({ arch: 'gpt2', out })).rejects.toThrow(
      /option 'vocab_size' is required/,
    );
    await expect(
      initModelDirectory({ arch: 'mamba' as never, out, vocab_size: 5 }),
    ).rejects.toThrow(/option 'arch': Invalid option/);
    const tok = {
      vocabSize: 100,
      bosTokenId: 1,
      eosTokenId: 2,
      padTokenId: 0,
      writeHfFiles: async () => {},
    };
    await expect(initModelDirectory({ arch: 'llama', out, vocab_size: 64 }, tok)).rejects.toThrow(
      /option 'vocab_size' = 64; expected at least the tokenizer's vocabulary size \(100\)/,
    );
  });
});
