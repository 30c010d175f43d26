// tools/models/make-real-layouts.ts: the five real layouts (Qwen2.5-0.5B-Instruct, Qwen3-0.6B,
// SmolLM2-135M/360M, Llama-3.2-1B) at full size in --dry-run (published parameter counts), and
// written with --tiny (same code path, same config keys, flags, vocabulary and tokenizer; 2 layers,
// small dims), then read by our loader and run through `rxrl generate`.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@rxrl/core';
import { HfTokenizer } from '@rxrl/data';
import { CausalLM, fromHfConfig, inspectPretrained, loadPretrained } from '@rxrl/model';
import { runCli } from '../src/cli';
import { fakeIo } from '../src/testing/fakeIo';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-real-layouts-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
// the script and full loads take 30 s on a quiet machine, several times that on a busy one
const SLOW = 300_000;

function script(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(
      process.execPath,
      ['--import', 'tsx', 'tools/models/make-real-layouts.ts', ...args],
      { cwd: root, timeout: SLOW, maxBuffer: 1 << 24 },
      (e, stdout, stderr) =>
        resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, stdout, stderr }),
    ),
  );
}

/** The published totals (tied heads counted once), and what each model's config must say. */
const PUBLISHED = {
  'qwen2.5-0.5b': {
    parameters: 494_032_768,
    model_type: 'qwen2',
    vocab: 151_936,
    tokenizerIds: 151_665,
  },
  'qwen3-0.6b': {
    parameters: 596_049_920,
    model_type: 'qwen3',
    vocab: 151_936,
    tokenizerIds: 151_669,
  },
  'smollm2-135m': {
    parameters: 134_515_008,
    model_type: 'llama',
    vocab: 49_152,
    tokenizerIds: 49_152,
  },
  'smollm2-360m': {
    parameters: 361_821_120,
    model_type: 'llama',
    vocab: 49_152,
    tokenizerIds: 49_152,
  },
  'llama-3.2-1b': {
    parameters: 1_235_814_400,
    model_type: 'llama',
    vocab: 128_256,
    tokenizerIds: 128_256,
  },
} as const;
const NAMES = Object.keys(PUBLISHED) as (keyof typeof PUBLISHED)[];

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** Is `got` a bf16 value (low 16 bits zero) and the nearer of the two bf16 values around `x`? */
function nearestBf16(got: number, x: number): boolean {
  f32[0] = got;
  if ((u32[0]! & 0xffff) !== 0) return false;
  f32[0] = x;
  const down = (u32[0]! & 0xffff0000) >>> 0;
  u32[0] = down;
  const below = f32[0]!; // toward zero
  u32[0] = down + 0x10000;
  const above = f32[0]!; // away from zero
  const nearer = Math.abs(below - x) <= Math.abs(above - x) ? below : above;
  return got === nearer || Math.abs(got - x) === Math.abs(nearer - x);
}

describe('make-real-layouts', () => {
  const out = path.join(tmp, 'models');
  let made: { code: number; stdout: string; stderr: string };
  beforeAll(async () => {
    await useBackend('wasm');
    // 5 MB shards: every tiny model is sharded, as the full-size ones are above 5 GB
    made = await script(['--tiny', '--out', out, '--seed', '3', '--max-shard-size', '5MB']);
  }, SLOW);

  it(
    '--dry-run: each table row gives the published parameter count, one file under 5 GB',
    async () => {
      const { code, stdout } = await script(['--dry-run']);
      expect(code).toBe(0);
      for (const name of NAMES) {
        const p = PUBLISHED[name];
        const line = stdout.split('\n').find((l) => l.startsWith(`${name}:`));
        expect(line).toBe(
          `${name}: ${p.model_type}, ${p.parameters.toLocaleString('en-US')} parameters, ${((2 * p.parameters) / 1e6).toFixed(1)} MB bf16 in 1 file (${line!.split('(')[1]}`,
        );
      }
    },
    SLOW,
  );

  it('--tiny writes all five, sharded, with a progress summary each', () => {
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    for (const name of NAMES) {
      expect(made.stdout).toMatch(
        new RegExp(
          `^${name}-tiny: [\\d,]+ parameters, [\\d.]+ MB bf16 in \\d+ files, tokenizer `,
          'm',
        ),
      );
      expect(fs.readdirSync(path.join(out, `${name}-tiny`)).sort()).toEqual(
        expect.arrayContaining([
          'config.json',
          'generation_config.json',
          'model-00001-of-00002.safetensors',
          'model.safetensors.index.json',
          'tokenizer.json',
          'tokenizer_config.json',
        ]),
      );
    }
  });

  for (const name of NAMES) {
    it(
      `${name}: loads as bf16 CausalLM.create(config, seed 3) and generates from its tokenizer`,
      async () => {
        const dir = path.join(out, `${name}-tiny`);
        const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
        const p = PUBLISHED[name];
        expect(config.model_type).toBe(p.model_type);
        expect(config.vocab_size).toBe(p.vocab);
        expect(config.torch_dtype).toBe('bfloat16');
        expect(config.tie_word_embeddings).toBe(true);
        expect(config.num_hidden_layers).toBe(2);
        const cfg = fromHfConfig(config);
        if (name === 'qwen3-0.6b') {
          expect(cfg.qkNorm).toBe(true);
          // Qwen3-0.6B's q projection is twice the hidden size (16 heads × 128 > 1024); kept
          expect(cfg.numHeads * cfg.headDim).toBe(2 * cfg.hiddenSize);
        }
        if (name === 'qwen2.5-0.5b') expect(cfg.qkvBias).toBe(true);
        if (name === 'llama-3.2-1b')
          expect(cfg.ropeScaling).toEqual({
            rope_type: 'llama3',
            factor: 32,
            low_freq_factor: 1,
            high_freq_factor: 4,
            original_max_position_embeddings: 8192,
          });

        const info = await inspectPretrained(dir);
        expect(info.dtype).toBe('BF16');
        expect(info.weights.files.length).toBe(2);
        expect(info.tokenizer!.maxId).toBe(p.tokenizerIds - 1);
        expect(info.tokenizer!.maxId).toBeLessThan(p.vocab);

        // the weights are CausalLM.create's draws (HF init scale), each rounded to the nearest bf16.
        // Every weight draws from its own named stream, so a 512-id copy of the config draws the
        // same layers and the first 512 rows of the embedding (drawing all of it would double the test)
        const loaded = await loadPretrained(dir);
        const created = CausalLM.create({ ...cfg, vocabSize: 512 }, { seed: 3 });
        const a = loaded.exportHfWeights();
        const b = created.exportHfWeights();
        expect([...a.keys()]).toEqual([...b.keys()]);
        expect(a.has('lm_head.weight')).toBe(false);
        let mismatches = 0;
        for (const [wname, t] of b) {
          const got = a.get(wname)!.data;
          const embedding = wname === 'model.embed_tokens.weight';
          expect(got.length, wname).toBe(embedding ? p.vocab * cfg.hiddenSize : t.data.length);
          for (let i = 0; i < t.data.length; i++)
            if (!nearestBf16(got[i]!, t.data[i]!)) mismatches++;
        }
        expect(mismatches).toBe(0);
        const embed = a.get('model.embed_tokens.weight')!.data;
        let sq = 0;
        for (const v of embed) sq += v * v;
        // normal(0, initializer_range): the std of 1.5M+ draws within 1% of the config's
        expect(Math.sqrt(sq / embed.length) / cfg.initializerRange).toBeCloseTo(1, 2);
        const ids = tf.tensor2d([[1, 2, 3]], undefined, 'int32');
        const logits = loaded.logits(ids);
        expect(logits.shape).toEqual([1, 3, p.vocab]);
        tf.dispose([ids, logits]);
        loaded.dispose();
        created.dispose();

        // the tokenizer through rxrl generate: the chat template, greedy ids inside the vocabulary
        const { io, out: lines } = fakeIo(root);
        const code = await runCli(
          [
            'generate',
            '--model',
            dir,
            '--prompt',
            'What is 2+2?',
            '--chat',
            '--max-new-tokens',
            '4',
          ].concat(['--temperature', '0', '--json']),
          io,
        );
        expect(code).toBe(0);
        const row = JSON.parse(lines[0]!);
        expect(row.completion_tokens.length).toBeGreaterThan(0);
        for (const id of row.completion_tokens) expect(id).toBeLessThan(p.vocab);
        const tokenizer = await HfTokenizer.fromDirectory(dir);
        expect(
          tokenizer.decode(
            tokenizer.encode('round trip: 3 × 4 = 12 ✓', { addSpecialTokens: false }),
          ),
        ).toBe('round trip: 3 × 4 = 12 ✓');
      },
      SLOW,
    );
  }

  it(
    'refuses to overwrite without --force (exit 2), replaces with it',
    async () => {
      const again = await script(['--tiny', '--only', 'smollm2-135m', '--out', out]);
      expect(again.code).toBe(2);
      expect(again.stderr).toContain(
        `${path.join(out, 'smollm2-135m-tiny')} exists; pass --force to replace it`,
      );
      const forced = await script([
        '--tiny',
        '--only',
        'smollm2-135m',
        '--out',
        out,
        '--force',
        '--seed',
        '4',
      ]);
      expect(forced.code).toBe(0);
      // one file now (default 5 GB shards), new seed: different weights
      expect(fs.existsSync(path.join(out, 'smollm2-135m-tiny', 'model.safetensors'))).toBe(true);
      expect(
        fs.existsSync(path.join(out, 'smollm2-135m-tiny', 'model.safetensors.index.json')),
      ).toBe(false);
      const bad = await script(['--only', 'gpt-5']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(
        /--only: unknown model 'gpt-5'; expected qwen2.5-0.5b, qwen3-0.6b/,
      );
    },
    SLOW,
  );
});
