import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RxrlUsageError } from '@rxrl/core/base';
import { useBackend } from '@rxrl/core';
import { BuiltinTokenizer, HfTokenizer } from '@rxrl/data';
import { initModelDirectory, loadPretrained, type CausalLM } from '@rxrl/model';
import type { CliIo } from '../io';
import { startServe, type StartedServer } from './serve';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-serve-'));
const dir = path.join(tmp, 'llama-tiny');
const out: string[] = [];
const io: CliIo = { out: (t) => void out.push(t), err: () => undefined, env: {}, cwd: tmp };
const global = { backend: 'wasm', verbose: false };
let served: StartedServer;
let client: OpenAI;
let model: CausalLM;
let tokenizer: HfTokenizer;

beforeAll(async () => {
  await useBackend('wasm');
  await initModelDirectory(
    { arch: 'llama', preset: 'tiny', out: dir, seed: 1 },
    new BuiltinTokenizer(),
  );
  served = await startServe({
    values: { model: 'llama-tiny', port: '0', 'served-model-name': 'tiny' },
    positionals: [],
    global,
    io,
  });
  client = new OpenAI({ baseURL: `${served.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  model = await loadPretrained(dir);
  tokenizer = await HfTokenizer.fromDirectory(dir);
});

afterAll(async () => {
  await served?.close();
  model?.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('rxrl serve', () => {
  it('serves an init-model directory under its --served-model-name and prints the URL and the limits', async () => {
    expect(out.join('\n')).toMatch(
      /serving 'tiny' \(llama-tiny\) at http:\/\/127\.0\.0\.1:\d+\/v1/,
    );
    const ctx = model.config.maxPositionEmbeddings;
    expect(out.join('\n')).toContain(
      `limits: --max-model-len ${ctx}, --max-num-seqs 32, --max-seqs-per-request 256, --max-queued-seqs 1024, --max-body-bytes ${256 * 1024 + 8 * ctx * 256}, --headers-timeout 10, --request-timeout 30, --max-connections 256`,
    );
    expect((await client.models.list()).data.map((m) => m.id)).toEqual(['tiny']);
  });

  it('scores text with echo + logprobs exactly as the model does (HF tokenizer from the directory)', async () => {
    const text = 'Hello there, 12 + 30 = 42.';
    const r = await client.completions.create({
      model: 'tiny',
      prompt: text,
      max_tokens: 0,
      echo: true,
      logprobs: 0,
    });
    const ids = tokenizer.encode(text);
    const t = ids.length - 1;
    const want = tf.tidy(() =>
      model
        .tokenLogProbs(
          tf.tensor2d(ids.slice(0, t), [1, t], 'int32'),
          null,
          tf.tensor2d(ids.slice(1), [1, t], 'int32'),
        )
        .dataSync(),
    );
    const got = r.choices[0]!.logprobs!.token_logprobs!;
    expect(got[0]).toBeNull();
    expect(got).toHaveLength(ids.length);
    for (let i = 1; i < got.length; i++)
      expect(Math.abs(got[i]! - want[i - 1]!)).toBeLessThan(1e-4);
    expect(r.usage!.prompt_tokens).toBe(ids.length);

    // text_offset indexes the echoed text + completion; the BOS token has no text
    const params = {
      model: 'tiny',
      prompt: text,
      max_tokens: 5,
      echo: true,
      logprobs: 0,
      return_tokens_as_token_ids: true,
    };
    const g = await client.completions.create(
      params as OpenAI.Completions.CompletionCreateParamsNonStreaming,
    );
    const c = g.choices[0]!;
    const tokenIds = c.logprobs!.tokens!.map((s) => Number(s.slice('token_id:'.length)));
    expect(tokenIds.slice(0, ids.length)).toEqual(ids);
    expect(c.text.startsWith(text)).toBe(true);
    tokenIds.forEach((id, i) => {
      const piece = tokenizer.decode([id], { skipSpecialTokens: true });
      expect(
        c.text.slice(c.logprobs!.text_offset![i]!, c.logprobs!.text_offset![i]! + piece.length),
      ).toBe(piece);
    });
    expect(c.logprobs!.text_offset![ids.length]).toBe(text.length);
  });

  it('chat uses the directory’s chat template; streaming gives the same text', async () => {
    const messages = [{ role: 'user' as const, content: 'What is 2+2?' }];
    const chat = await client.chat.completions.create({
      model: 'tiny',
      messages,
      max_tokens: 10,
      temperature: 0,
    });
    const prompt = tokenizer.encode(
      tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true }),
      { addSpecialTokens: false },
    );
    const plain = await client.completions.create({
      model: 'tiny',
      prompt,
      max_tokens: 10,
      temperature: 0,
    });
    expect(chat.choices[0]!.message.content).toBe(plain.choices[0]!.text);
    expect(chat.usage!.prompt_tokens).toBe(prompt.length);
    let streamed = '';
    for await (const c of await client.chat.completions.create({
      model: 'tiny',
      messages,
      max_tokens: 10,
      temperature: 0,
      stream: true,
    })) {
      streamed += c.choices[0]?.delta.content ?? '';
    }
    expect(streamed).toBe(chat.choices[0]!.message.content);
  });

  it('rejects bad flags with usage errors', async () => {
    const start = (values: Record<string, string>) =>
      startServe({ values, positionals: [], global, io });
    await expect(start({})).rejects.toThrow(RxrlUsageError);
    await expect(start({})).rejects.toThrow(/missing --model/);
    await expect(start({ model: 'nowhere' })).rejects.toThrow(/no config\.json/);
    await expect(start({ model: 'llama-tiny', port: '70000' })).rejects.toThrow(
      /--port expects an integer in \[0, 65535\], got '70000'/,
    );
    await expect(start({ model: 'llama-tiny', 'log-level': 'loud' })).rejects.toThrow(
      /--log-level expects one of off, error, warning, info, debug, got 'loud'/,
    );
    await expect(start({ model: 'llama-tiny', 'max-seqs-per-request': '0' })).rejects.toThrow(
      /--max-seqs-per-request expects an integer in \[1, /,
    );
    const ctx = model.config.maxPositionEmbeddings;
    await expect(
      start({ model: 'llama-tiny', port: '0', 'max-model-len': String(ctx + 1) }),
    ).rejects.toThrow(
      `--max-model-len ${ctx + 1} is larger than the model's context (max_position_embeddings ${ctx})`,
    );
  });
});
