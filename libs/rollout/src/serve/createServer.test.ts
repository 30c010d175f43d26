import * as tf from '@tensorflow/tfjs-core';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@rxrl/core';
import { Rng } from '@rxrl/core/base';
import { CausalLM, LoraAdapter, presetConfig } from '@rxrl/model';
import { CharTokenizer } from '../testing/charTokenizer';
import { createServer, type RxrlServer } from './createServer';
import { Engine, type SequenceSpec } from './engine';

const tok = new CharTokenizer();
let model: CausalLM;
let server: RxrlServer;
let url: string;
let client: OpenAI;
const logLines: string[] = [];

beforeAll(async () => {
  await useBackend('wasm');
  model = CausalLM.create(presetConfig('llama', 'tiny', tok.vocabSize), { seed: 3 });
  server = createServer(
    model,
    tok,
    { served_model_name: 'tiny' },
    { log: (l) => void logLines.push(l) },
  );
  url = await server.listen(0, '127.0.0.1');
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
});

afterAll(async () => {
  await server?.close();
  model?.dispose();
});

// vLLM extras (ignore_eos, return_tokens_as_token_ids) ride along in the body
type Completion = OpenAI.Completions.CompletionCreateParamsNonStreaming & Record<string, unknown>;
const complete = (p: Omit<Completion, 'model'>) =>
  client.completions.create({ model: 'tiny', ...p } as Completion);

/** log p(ids[t] | ids[<t]) for t ≥ 1, from the model's own tokenLogProbs. */
function scoreIds(ids: number[]): number[] {
  const t = ids.length - 1;
  const out = tf.tidy(() =>
    model.tokenLogProbs(
      tf.tensor2d(ids.slice(0, t), [1, t], 'int32'),
      null,
      tf.tensor2d(ids.slice(1), [1, t], 'int32'),
    ),
  );
  const v = Array.from(out.dataSync());
  out.dispose();
  return v;
}

const idsOf = (tokens: string[]) => tokens.map((s) => Number(/^token_id:(\d+)$/.exec(s)![1]));

describe('rxrl serve through the openai client', () => {
  it('lists the served model', async () => {
    const page = await client.models.list();
    expect(page.data.map((m) => m.id)).toEqual(['tiny']);
    expect(page.data[0]!.object).toBe('model');
  });

  it('n=2 completions with logprobs that are the model’s own log-probs of the sampled tokens', async () => {
    const prompt = tok.encode('hello world');
    const r = await complete({
      prompt,
      n: 2,
      max_tokens: 6,
      logprobs: 3,
      seed: 11,
      temperature: 1,
      ignore_eos: true,
      return_tokens_as_token_ids: true,
      return_token_ids: true,
    });
    expect(r.choices.map((c) => c.index)).toEqual([0, 1]);
    let total = 0;
    for (const c of r.choices) {
      const lp = c.logprobs!;
      const ids = idsOf(lp.tokens!);
      expect((c as unknown as { token_ids: number[] }).token_ids).toEqual(ids);
      expect((c as unknown as { prompt_token_ids: number[] }).prompt_token_ids).toEqual(prompt);
      expect(ids).toHaveLength(6);
      expect(c.finish_reason).toBe('length');
      expect(c.text).toBe(tok.decode(ids, { skipSpecialTokens: true }));
      // at temperature 1 the generation log-probs are log softmax of the logits: rescore prompt + completion
      const want = scoreIds([...prompt, ...ids]).slice(prompt.length - 1);
      lp.token_logprobs!.forEach((v, t) => expect(v).toBeCloseTo(want[t]!, 4));
      for (let t = 0; t < ids.length; t++) {
        const top = Object.values(lp.top_logprobs![t]!);
        expect(top.length).toBeGreaterThanOrEqual(3);
        expect(Math.max(...top)).toBeGreaterThanOrEqual(lp.token_logprobs![t]! - 1e-9);
      }
      // offsets index the text: one character per CharTokenizer token, none for the specials
      const pieces = ids.map((id) => tok.decode([id], { skipSpecialTokens: true }));
      expect(lp.text_offset).toEqual(pieces.map((_, t) => pieces.slice(0, t).join('').length));
      total += ids.length;
    }
    expect(r.usage).toEqual({
      prompt_tokens: prompt.length,
      completion_tokens: total,
      total_tokens: prompt.length + total,
    });
  });

  it('echo + logprobs scores the prompt: the first token null, the rest equal tokenLogProbs within 1e-4', async () => {
    const text = 'the quick brown fox';
    const r = await complete({ prompt: text, max_tokens: 0, echo: true, logprobs: 1 });
    const c = r.choices[0]!;
    expect(c.text).toBe(text);
    const want = scoreIds(tok.encode(text));
    expect(c.logprobs!.token_logprobs![0]).toBeNull();
    expect(c.logprobs!.tokens!.join('')).toBe(text);
    const got = c.logprobs!.token_logprobs!.slice(1) as number[];
    expect(got).toHaveLength(want.length);
    got.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThan(1e-4));
    expect(r.usage!.completion_tokens).toBe(0);
  });

  it('a list of prompts gives n choices per prompt, prompt-major; token-id and text prompts agree', async () => {
    const greedy = { max_tokens: 5, temperature: 0, ignore_eos: true };
    const asText = await complete({ prompt: ['ab', 'xyz'], n: 2, ...greedy });
    const asIds = await complete({
      prompt: [tok.encode('ab'), tok.encode('xyz')],
      n: 2,
      ...greedy,
    });
    expect(asText.choices.map((c) => c.index)).toEqual([0, 1, 2, 3]);
    expect(asIds.choices.map((c) => c.text)).toEqual(asText.choices.map((c) => c.text));
    const single = await complete({ prompt: 'xyz', ...greedy });
    expect(asText.choices[2]!.text).toBe(single.choices[0]!.text);
    expect(asText.usage!.prompt_tokens).toBe(5);
  });

  it('stop strings cut the text before the match with finish_reason stop; max_tokens ends with length', async () => {
    const base = await complete({
      prompt: 'hello',
      max_tokens: 12,
      temperature: 0,
      ignore_eos: true,
    });
    const full = base.choices[0]!.text;
    expect(base.choices[0]!.finish_reason).toBe('length');
    expect(base.usage!.completion_tokens).toBe(12);
    expect(full.length).toBeGreaterThan(3);
    const stop = full.slice(2, 4);
    const cut = await complete({
      prompt: 'hello',
      max_tokens: 12,
      temperature: 0,
      ignore_eos: true,
      stop: [stop, 'never-there'],
    });
    expect(cut.choices[0]!.text).toBe(full.slice(0, full.indexOf(stop)));
    expect(cut.choices[0]!.finish_reason).toBe('stop');
    const one = await complete({
      prompt: 'hello',
      max_tokens: 12,
      temperature: 0,
      ignore_eos: true,
      stop,
    });
    expect(one.choices[0]!.text).toBe(cut.choices[0]!.text);
  });

  it('the same seed gives the same completions; another seed others', async () => {
    const p = {
      prompt: 'seed test',
      n: 2,
      max_tokens: 16,
      temperature: 1,
      ignore_eos: true,
      return_tokens_as_token_ids: true,
      logprobs: 0,
    };
    const a = await complete({ ...p, seed: 5 });
    const b = await complete({ ...p, seed: 5 });
    const c = await complete({ ...p, seed: 6 });
    const toks = (r: OpenAI.Completions.Completion) =>
      r.choices.map((x) => x.logprobs!.tokens!.join(','));
    expect(toks(b)).toEqual(toks(a));
    expect(toks(c)).not.toEqual(toks(a));
    expect(toks(a)[0]).not.toEqual(toks(a)[1]);
  });

  it('streams completion chunks (echo, n, stop, logprobs) that concatenate to the non-streamed result', async () => {
    const p = {
      prompt: ['hi there', 'ok'],
      n: 2,
      max_tokens: 10,
      temperature: 1,
      seed: 21,
      stop: ['e', 'k'],
      echo: true,
      logprobs: 1,
    };
    const whole = await complete(p);
    expect(whole.choices.map((c) => c.text.slice(0, 2))).toEqual(['hi', 'hi', 'ok', 'ok']);
    expect(whole.choices[0]!.logprobs!.token_logprobs![0]).toBeNull();
    const stream = await client.completions.create({
      model: 'tiny',
      ...p,
      stream: true,
      stream_options: { include_usage: true },
    });
    const text = ['', '', '', ''];
    const finish: (string | null)[] = [null, null, null, null];
    const lps: number[][] = [[], [], [], []];
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        text[c.index] += c.text;
        if (c.finish_reason) finish[c.index] = c.finish_reason;
        lps[c.index]!.push(...((c.logprobs?.token_logprobs ?? []) as number[]));
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toEqual(whole.choices.map((c) => c.text));
    expect(finish).toEqual(whole.choices.map((c) => c.finish_reason));
    expect(lps).toEqual(whole.choices.map((c) => c.logprobs!.token_logprobs));
    expect(usage).toEqual(whole.usage);
  });

  it('chat completions render the chat template, and stream the same content', async () => {
    const messages = [
      { role: 'system' as const, content: 'be brief' },
      { role: 'user' as const, content: 'hi' },
    ];
    const chat = await client.chat.completions.create({
      model: 'tiny',
      messages,
      max_tokens: 8,
      temperature: 0,
      logprobs: true,
      top_logprobs: 2,
    });
    const ids = tok.encode(tok.applyChatTemplate(messages));
    const plain = await complete({ prompt: ids, max_tokens: 8, temperature: 0 });
    const c = chat.choices[0]!;
    expect(c.message.role).toBe('assistant');
    expect(c.message.content).toBe(plain.choices[0]!.text);
    expect(c.finish_reason).toBe(plain.choices[0]!.finish_reason);
    expect(chat.usage!.prompt_tokens).toBe(ids.length);
    expect(c.logprobs!.content!.length).toBe(chat.usage!.completion_tokens);
    for (const e of c.logprobs!.content!) expect(e.top_logprobs.length).toBe(2);

    const p = {
      model: 'tiny',
      messages,
      max_tokens: 12,
      temperature: 0.8,
      seed: 4,
      n: 2,
      stop: ['a'],
    };
    const whole = await client.chat.completions.create(p);
    const stream = await client.chat.completions.create({ ...p, stream: true });
    const text = ['', ''];
    const finish: (string | null)[] = [null, null];
    for await (const chunk of stream) {
      for (const ch of chunk.choices) {
        text[ch.index] += ch.delta.content ?? '';
        if (ch.finish_reason) finish[ch.index] = ch.finish_reason;
      }
    }
    expect(text).toEqual(whole.choices.map((x) => x.message.content));
    expect(finish).toEqual(whole.choices.map((x) => x.finish_reason));
  });

  it('concurrent requests are batched and give what they give alone', async () => {
    const prompts = ['alpha', 'b', 'gamma ray', 'delta'];
    const alone = [];
    for (const prompt of prompts)
      alone.push(
        (await complete({ prompt, max_tokens: 6, temperature: 0, ignore_eos: true })).choices[0]!
          .text,
      );
    const before = server.engine.stats.batches;
    const together = await Promise.all(
      prompts.map((prompt) =>
        complete({ prompt, max_tokens: 6, temperature: 0, ignore_eos: true }),
      ),
    );
    expect(together.map((r) => r.choices[0]!.text)).toEqual(alone);
    // the first request may start a batch alone; the rest queue meanwhile and share the next
    expect(server.engine.stats.batches - before).toBeLessThanOrEqual(2);
  });

  it('stops decoding a request whose client hung up', async () => {
    const { cancelled, tokens } = server.engine.stats;
    const ac = new AbortController();
    const body = JSON.stringify({
      model: 'tiny',
      prompt: 'long one',
      max_tokens: 400,
      ignore_eos: true,
    });
    const req = fetch(`${url}/v1/completions`, {
      method: 'POST',
      body,
      signal: ac.signal,
      headers: { 'content-type': 'application/json' },
    });
    setTimeout(() => ac.abort(), 150);
    await expect(req).rejects.toThrow();
    for (let i = 0; i < 100 && server.engine.stats.cancelled === cancelled; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(server.engine.stats.cancelled).toBe(cancelled + 1);
    expect(server.engine.stats.tokens - tokens).toBeLessThan(400);
  });

  it('answers errors in the OpenAI shape with the right status and param', async () => {
    const err = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (e) {
        return e as InstanceType<typeof OpenAI.APIError>;
      }
      throw new Error('expected an error');
    };
    const unknownModel = await err(client.completions.create({ model: 'nope', prompt: 'x' }));
    expect(unknownModel).toBeInstanceOf(OpenAI.NotFoundError);
    expect(unknownModel.status).toBe(404);
    expect(unknownModel.message).toMatch(/nope/);
    const badTemp = await err(complete({ prompt: 'x', temperature: -1 }));
    expect(badTemp).toBeInstanceOf(OpenAI.BadRequestError);
    expect(badTemp.param).toBe('temperature');
    expect((await err(complete({ prompt: 'x', logprobs: 50 }))).param).toBe('logprobs');
    expect((await err(complete({ prompt: [999] }))).param).toBe('prompt');
    // in a list, the prompt that does not fit is named by its index
    const long = await err(complete({ prompt: ['ab', 'x'.repeat(600)] }));
    expect([long.status, long.param]).toEqual([400, 'prompt.1']);
    expect(long.message).toMatch(/maximum context length is 512 tokens/);
    expect((await err(complete({ prompt: 'x', max_tokens: 100000 }))).message).toMatch(
      /maximum context length/,
    );
    expect((await err(client.chat.completions.create({ model: 'tiny', messages: [] }))).param).toBe(
      'messages',
    );

    // a streamed request that fails validation still gets a plain JSON error, not an event stream
    const streamed = await err(
      client.completions.create({ model: 'tiny', prompt: 'x', top_p: 0, stream: true }),
    );
    expect([streamed.status, streamed.param]).toEqual([400, 'top_p']);

    const route = await fetch(`${url}/v1/nothing`);
    expect(route.status).toBe(404);
    expect(((await route.json()) as { error: unknown }).error).toMatchObject({
      type: 'NotFoundError',
      code: 404,
    });
    const bad = await fetch(`${url}/v1/completions`, {
      method: 'POST',
      body: '{not json',
      headers: { 'content-type': 'application/json' },
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(
      /not valid JSON/,
    );
  });

  it('drops sequences whose client has gone before their prefill, and stops a batch between decode steps', async () => {
    const engine = new Engine(model, tok, 2);
    let gone = false;
    const spec = (i: number): SequenceSpec => ({
      prompt: tok.encode('ab'),
      params: { temperature: 0, top_k: null, top_p: 1, min_p: 0 },
      maxTokens: 8,
      stop: [],
      stopTokenIds: new Set<number>(),
      includeStopStr: false,
      rng: new Rng(i),
      topLogprobs: null,
      cancelled: () => gone,
      // the client leaves as soon as the first token of the first sequence is out
      onToken: () => void (gone = true),
    });
    const states = await engine.generate([0, 1, 2, 3, 4, 5].map(spec));
    // one batch of 2 was prefilled; its second row was cancelled in the same step, its first at the next;
    // the other 4 never reached a prefill
    expect(engine.stats).toEqual({ batches: 1, sequences: 2, tokens: 1, cancelled: 6 });
    expect(states.map((s) => s.tokens.length)).toEqual([1, 0, 0, 0, 0, 0]);
  });

  it('logs one line per request (method, path, status, duration, sequences) and one per error', async () => {
    logLines.length = 0;
    await complete({ prompt: ['ab', 'cd'], n: 2, max_tokens: 2 });
    await fetch(`${url}/v1/nothing`);
    await new Promise((r) => setTimeout(r, 50));
    expect(logLines).toHaveLength(3);
    expect(logLines[0]).toMatch(/^\S+Z INFO POST \/v1\/completions 200 [\d.]+ms seqs=4$/);
    expect(logLines[1]).toMatch(/^\S+Z WARNING GET \/v1\/nothing 404 no route GET \/v1\/nothing/);
    expect(logLines[2]).toMatch(/^\S+Z INFO GET \/v1\/nothing 404 [\d.]+ms seqs=0$/);
  });

  it('tokenises through io.encode when given one (a worker thread in rxrl serve), with the same answers', async () => {
    const seen: string[] = [];
    const other = createServer(
      model,
      tok,
      { served_model_name: 'tiny', log_level: 'off' },
      { encode: async (text) => (seen.push(text), tok.encode(text)) },
    );
    const otherUrl = await other.listen(0, '127.0.0.1');
    try {
      const body = { model: 'tiny', prompt: ['abc', 'xyz'], max_tokens: 4, temperature: 0 };
      const post = async (base: string) =>
        (
          (await (
            await fetch(`${base}/v1/completions`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify(body),
            })
          ).json()) as { choices: { text: string }[] }
        ).choices.map((c) => c.text);
      expect(await post(otherUrl)).toEqual(await post(url));
      expect(seen).toEqual(['abc', 'xyz']);
    } finally {
      await other.close();
    }
  });

  it('keeps the tensor count flat across requests', async () => {
    const run = () =>
      complete({ prompt: ['abc', 'de'], n: 2, max_tokens: 4, logprobs: 2, echo: true });
    await run();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await run();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('several models (LoRA adapters by name) under the same limits', () => {
  it('lists each with its parent and context; every limit, the 413, the log, the encode hook and cancellation apply to each', async () => {
    const adapter = LoraAdapter.create(
      model,
      { r: 2, target_modules: ['q_proj', 'v_proj'] },
      { seed: 1 },
    );
    const short = CausalLM.create(
      { ...presetConfig('llama', 'tiny', tok.vocabSize), maxPositionEmbeddings: 64 },
      { seed: 4 },
    );
    const lines: string[] = [];
    const seen: string[] = [];
    const multi = createServer(
      model,
      tok,
      { served_model_name: 'base', max_seqs_per_request: 2, max_body_bytes: 2048 },
      {
        extraModels: new Map([
          ['tuned', model.withAdapter(adapter)],
          ['short', short],
        ]),
        log: (l) => void lines.push(l),
        encode: async (text) => (seen.push(text), tok.encode(text)),
      },
    );
    // max_model_len is checked against every model's own context
    expect(() =>
      createServer(
        model,
        tok,
        { max_model_len: 100, log_level: 'off' },
        { extraModels: new Map([['short', short]]) },
      ),
    ).toThrow(/max_model_len 100 is larger than the model's context .*64.*'short'/);
    const base = await multi.listen(0, '127.0.0.1');
    const post = (body: unknown, init: RequestInit = {}) =>
      fetch(`${base}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: typeof body === 'string' ? body : JSON.stringify(body),
        ...init,
      });
    const error = async (r: Response) =>
      ((await r.json()) as { error: { message: string; param: string | null } }).error;
    try {
      const list = (await (await fetch(`${base}/v1/models`)).json()) as {
        data: { id: string; parent?: string; max_model_len: number }[];
      };
      expect(list.data.map((m) => [m.id, m.parent, m.max_model_len])).toEqual([
        ['base', undefined, 512],
        ['tuned', 'base', 512],
        ['short', 'base', 64],
      ]);
      const card = (await (await fetch(`${base}/v1/models/tuned`)).json()) as { parent: string };
      expect(card.parent).toBe('base');
      expect((await fetch(`${base}/v1/models/nope`)).status).toBe(404);

      // a request picks its model by name, tokenised through the hook
      const ok = await post({ model: 'tuned', prompt: 'abc', max_tokens: 2, temperature: 0 });
      expect(ok.status).toBe(200);
      expect(((await ok.json()) as { model: string }).model).toBe('tuned');
      expect(seen).toEqual(['abc']);
      // the per-request cap, per model
      const many = await post({ model: 'tuned', prompt: ['a', 'b', 'c'], max_tokens: 1 });
      expect(many.status).toBe(400);
      expect((await error(many)).message).toMatch(/--max-seqs-per-request/);
      // max_tokens against the requested model's context: 64 fits the base, not 'short'
      const long = await post({ model: 'short', prompt: 'ab', max_tokens: 64 });
      expect(long.status).toBe(400);
      expect((await error(long)).message).toMatch(/maximum context length is 64/);
      const fits = await post({ model: 'short', prompt: 'ab', max_tokens: 63 - 2, temperature: 0 });
      expect(fits.status).toBe(200);
      // the body limit, before the model is known
      const big = await post({ model: 'tuned', prompt: 'x'.repeat(4000), max_tokens: 1 });
      expect(big.status).toBe(413);
      // a client that leaves is dropped on the adapter's own worker
      const worker = multi.engines.get('tuned')!;
      const { cancelled } = worker.stats;
      const ac = new AbortController();
      const gone = post(
        { model: 'tuned', prompt: 'long one', max_tokens: 400, ignore_eos: true },
        { signal: ac.signal },
      );
      setTimeout(() => ac.abort(), 150);
      await expect(gone).rejects.toThrow();
      for (let i = 0; i < 100 && worker.stats.cancelled === cancelled; i++)
        await new Promise((r) => setTimeout(r, 20));
      expect(worker.stats.cancelled).toBe(cancelled + 1);
      await new Promise((r) => setTimeout(r, 50));
      expect(
        lines
          .filter((l) => / INFO POST \/v1\/completions /.test(l))
          .map((l) => / (\d{3}) /.exec(l)![1]),
      ).toEqual(['200', '400', '400', '200', '413', '499']);
      expect(lines.some((l) => /WARNING .* 400 .*--max-seqs-per-request/.test(l))).toBe(true);
    } finally {
      await multi.close();
      short.dispose();
      adapter.dispose();
    }
  });
});
