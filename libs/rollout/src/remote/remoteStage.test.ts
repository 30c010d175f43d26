import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstValueFrom, from, toArray } from 'rxjs';
import type { RecordBatch } from 'apache-arrow';
import { useBackend } from '@rxrl/core';
import {
  listVectorFromRows,
  makeRecordBatch,
  readInt32Column,
  readListColumn,
  getColumn,
  type MetricEvent,
} from '@rxrl/core/base';
import { CausalLM, presetConfig } from '@rxrl/model';
import { generateStage } from '../generateStage';
import { createServer, type RxrlServer } from '../serve/createServer';
import { CharTokenizer } from '../testing/charTokenizer';
import { rolloutRemoteStage } from '../stageDefinitions';
import { remoteStage } from './remoteStage';

const tok = new CharTokenizer();
let model: CausalLM;
let server: RxrlServer;
let baseUrl: string;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  await useBackend('wasm');
  model = CausalLM.create(presetConfig('llama', 'tiny', tok.vocabSize), { seed: 5 });
  server = createServer(model, tok, { served_model_name: 'policy', log_level: 'off' });
  baseUrl = `${await server.listen(0)}/v1`;
});

afterAll(async () => {
  await server.close();
  for (const c of closers) await c();
  model.dispose();
});

const TEXTS = [
  'one plus one',
  'two',
  'three times 4',
  'x',
  'five',
  'six sixty',
  'seven',
  'eight 8',
];

function promptBatch(texts: string[], firstId = 10): RecordBatch {
  return makeRecordBatch({
    prompt_id: Int32Array.from(texts.map((_, i) => firstId + i)),
    prompt_tokens: listVectorFromRows(texts.map((t) => tok.encode(t))),
    prompt_text: texts,
  });
}

const run = (batches: RecordBatch[], stage: ReturnType<typeof remoteStage>) =>
  firstValueFrom(from(batches).pipe(stage, toArray()));

/** The generated columns of a batch as plain rows, for exact comparison. */
function rowsOf(b: RecordBatch) {
  const toks = readListColumn(b, 'completion_tokens', 'int32');
  const lps = readListColumn(b, 'gen_logprobs', 'float32');
  const text = getColumn(b, 'completion_text').toArray() as string[];
  const fin = getColumn(b, 'finish_reason');
  const group = readInt32Column(b, 'group_id');
  return Array.from({ length: b.numRows }, (_, i) => ({
    group: group[i],
    prompt: getColumn(b, 'prompt_text').get(i) as string,
    tokens: Array.from(toks.values.subarray(toks.offsets[i]!, toks.offsets[i + 1]!)),
    logprobs: Array.from(lps.values.subarray(lps.offsets[i]!, lps.offsets[i + 1]!)),
    text: text[i],
    finish: fin.get(i) as string,
  }));
}

/** A node:http server answering with `respond(requestNumber, body)`; returns its /v1 URL and request count. */
async function fakeServer(respond: (n: number, body: any, res: http.ServerResponse) => void) {
  let count = 0;
  const s = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => parts.push(b));
    req.on('end', () => respond(count++, JSON.parse(Buffer.concat(parts).toString()), res));
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise<void>((r) => (s.close(() => r()), s.closeAllConnections())));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/v1`, requests: () => count };
}

/** A valid answer: every prompt gets `n` completions of its first token repeated twice. */
function cannedAnswer(body: { prompt: number[]; n: number }) {
  const id = body.prompt[0]!;
  return {
    choices: Array.from({ length: body.n }, (_, i) => ({
      index: i,
      text: tok.decode([id, id]),
      finish_reason: 'length',
      logprobs: { tokens: [`token_id:${id}`, `token_id:${id}`], token_logprobs: [-0.5, -0.25 - i] },
    })),
  };
}

const fast = { model: 'policy', retry_backoff_ms: 20, max_backoff_ms: 200 };

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the run to fail');
}

describe('rollout.remote', () => {
  it('against rxrl serve gives what rollout.generate gives locally (greedy), same columns, rows and order', async () => {
    const opts = {
      num_generations_per_prompt: 2,
      max_new_tokens: 6,
      temperature: 0,
      stop_strings: ['e'],
    };
    const input = promptBatch(TEXTS.slice(0, 3));
    const [remote] = await run(
      [input],
      remoteStage({ ...fast, base_url: baseUrl, ...opts, max_concurrency: 2 }),
    );
    const [local] = await firstValueFrom(
      from([input]).pipe(generateStage(opts, { model, tokenizer: tok }), toArray()),
    );
    expect(remote!.schema.fields.map((f) => f.name)).toEqual(
      local!.schema.fields.map((f) => f.name),
    );
    const r = rowsOf(remote!);
    const l = rowsOf(local!);
    expect(r.map((x) => x.group)).toEqual([10, 10, 11, 11, 12, 12]);
    expect(r.map(({ tokens, text, finish }) => ({ tokens, text, finish }))).toEqual(
      l.map(({ tokens, text, finish }) => ({ tokens, text, finish })),
    );
    r.forEach((row, i) =>
      row.logprobs.forEach((v, t) => expect(v).toBeCloseTo(l[i]!.logprobs[t]!, 5)),
    );
  });

  it('survives the server being killed mid-run and restarted on the same port: every prompt exactly once, in order', async () => {
    const m2 = CausalLM.create(presetConfig('llama', 'tiny', tok.vocabSize), { seed: 9 });
    let current = createServer(m2, tok, { served_model_name: 'policy', log_level: 'off' });
    const url = await current.listen(0);
    const port = Number(new URL(url).port);
    const opts = {
      ...fast,
      base_url: `${url}/v1`,
      num_generations_per_prompt: 2,
      max_new_tokens: 8,
      temperature: 1,
      seed: 3,
      ignore_eos: true,
      max_concurrency: 2,
      retry_backoff_ms: 150,
    };
    const batches = [promptBatch(TEXTS.slice(0, 5), 0), promptBatch(TEXTS.slice(5), 5)];
    const reference = (await run(batches, remoteStage(opts))).flatMap(rowsOf);

    let seen = 0;
    let restarted: Promise<void> | null = null;
    current.http.on('request', () => {
      if (++seen !== 4) return;
      // the 4th request arrives: kill the server with requests in flight, bring it back 400 ms later
      restarted = (async () => {
        await current.close();
        await new Promise((r) => setTimeout(r, 400));
        current = createServer(m2, tok, { served_model_name: 'policy', log_level: 'off' });
        await current.listen(port);
      })();
    });
    const metrics: MetricEvent[] = [];
    const out = await run(batches, remoteStage(opts, { onMetric: (e) => metrics.push(e) }));
    await restarted;
    await current.close();
    m2.dispose();
    const got = out.flatMap(rowsOf);
    expect(got).toHaveLength(TEXTS.length * 2);
    expect(got.map((g) => g.group)).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7]);
    // batches of different composition differ by float32 rounding only: same samples, log-probs within 1e-5
    const strip = (rows: typeof got) => rows.map(({ logprobs: _, ...rest }) => rest);
    expect(strip(got)).toEqual(strip(reference));
    got.forEach((g, i) =>
      g.logprobs.forEach((v, t) =>
        expect(Math.abs(v - reference[i]!.logprobs[t]!)).toBeLessThan(1e-5),
      ),
    );
    const retries = metrics
      .filter((e) => e.name === 'performance/remote_retries')
      .reduce((a, e) => a + e.value, 0);
    expect(retries).toBeGreaterThanOrEqual(1);
  });

  it('keeps at most max_concurrency requests in flight, and answers arriving out of order land in row order', async () => {
    let inFlight = 0;
    let most = 0;
    const fake = await fakeServer((_n, body, res) => {
      most = Math.max(most, ++inFlight);
      // the first rows have the longest prompts and answer last: arrival order is not row order
      setTimeout(
        () => {
          inFlight--;
          res.end(JSON.stringify(cannedAnswer(body)));
        },
        20 + 15 * body.prompt.length,
      );
    });
    const texts = ['abcdef', 'abcde', 'bcd', 'cd', 'd', 'e', 'f'];
    const [out] = await run(
      [promptBatch(texts)],
      remoteStage({ ...fast, base_url: fake.url, max_concurrency: 3 }),
    );
    expect(most).toBe(3);
    expect(fake.requests()).toBe(texts.length);
    expect(rowsOf(out!).map((r) => [r.group, r.prompt, r.tokens[0]])).toEqual(
      texts.map((t, i) => [10 + i, t, tok.encode(t)[0]]),
    );
  });

  it('retries 500/502 answers with backoff and then succeeds', async () => {
    const fake = await fakeServer((n, body, res) => {
      if (n < 3) {
        res.writeHead(n % 2 ? 502 : 500, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ error: { message: 'overloaded' } }));
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(cannedAnswer(body)));
    });
    const metrics: MetricEvent[] = [];
    const [out] = await run(
      [promptBatch(['ab'])],
      remoteStage(
        { ...fast, base_url: fake.url, num_generations_per_prompt: 2, max_retries: 3 },
        { onMetric: (e) => metrics.push(e) },
      ),
    );
    expect(fake.requests()).toBe(4);
    expect(rowsOf(out!)).toEqual([
      {
        group: 10,
        prompt: 'ab',
        tokens: [3, 3],
        logprobs: [-0.5, -0.25],
        text: 'aa',
        finish: 'length',
      },
      {
        group: 10,
        prompt: 'ab',
        tokens: [3, 3],
        logprobs: [-0.5, -1.25],
        text: 'aa',
        finish: 'length',
      },
    ]);
    expect(metrics.find((e) => e.name === 'performance/remote_retries')!.value).toBe(3);
  });

  it('fails after max_retries 5xx answers, naming the URL, the attempts and the last status', async () => {
    const fake = await fakeServer((_n, _b, res) => {
      res.writeHead(503);
      res.end('busy');
    });
    const e = await failure(
      run([promptBatch(['ab'])], remoteStage({ ...fast, base_url: fake.url, max_retries: 2 })),
    );
    expect(fake.requests()).toBe(3);
    expect(e.message).toContain(`${fake.url}/completions`);
    expect(e.message).toMatch(/failed 3 times \(max_retries=2\); last: HTTP 503: "busy"/);
    expect((e as { lastStatus?: number }).lastStatus).toBe(503);
  });

  it('aborts a hanging request after timeout_ms and retries it, then fails clearly', async () => {
    const fake = await fakeServer(() => undefined);
    const t0 = performance.now();
    const e = await failure(
      run(
        [promptBatch(['ab'])],
        remoteStage({ ...fast, base_url: fake.url, timeout_ms: 150, max_retries: 1 }),
      ),
    );
    expect(fake.requests()).toBe(2);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(300);
    expect(e.message).toMatch(/failed 2 times .*no complete answer within timeout_ms=150/);
  });

  it('a 200 answer that is not JSON fails at once with a clear error (no retry)', async () => {
    const fake = await fakeServer((_n, _b, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('<html>proxy error</html>');
    });
    const e = await failure(
      run([promptBatch(['ab'])], remoteStage({ ...fast, base_url: fake.url })),
    );
    expect(fake.requests()).toBe(1);
    expect(e.message).toMatch(
      /completions failed: HTTP 200 with a body that is not JSON: "<html>proxy error<\/html>"/,
    );
  });

  it('refused connections fail after max_retries with the connection error', async () => {
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const e = await failure(
      run(
        [promptBatch(['ab'])],
        remoteStage({ ...fast, base_url: `http://127.0.0.1:${port}/v1`, max_retries: 2 }),
      ),
    );
    expect(e.message).toContain(
      `http://127.0.0.1:${port}/v1/completions failed 3 times (max_retries=2)`,
    );
    expect(e.message).toMatch(/ECONNREFUSED/);
  });

  it('a 4xx answer fails at once with the server’s message', async () => {
    const e = await failure(
      run([promptBatch(['ab'])], remoteStage({ ...fast, base_url: baseUrl, model: 'other' })),
    );
    expect(e.message).toMatch(/failed: HTTP 404: The model `other` does not exist/);
  });

  it('re-tokenises the text when the server returns no token ids, and says so when that does not line up', async () => {
    const fake = await fakeServer((n, body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const lp = n === 0 ? [-1, -2, -3] : [-1];
      res.end(
        JSON.stringify({
          choices: [
            {
              index: 0,
              text: 'ab',
              finish_reason: 'stop',
              logprobs: { tokens: ['a', 'b', ''], token_logprobs: lp },
            },
          ],
          echo: body.return_tokens_as_token_ids ?? null,
        }),
      );
    });
    const opts = { ...fast, base_url: fake.url, completion_token_ids: 'retokenize' as const };
    const [out] = await run([promptBatch(['ab'])], remoteStage(opts, { tokenizer: tok }));
    // the stop token (EOS) that ended the sample is scored but not in the text
    expect(rowsOf(out!)[0]).toMatchObject({
      tokens: [3, 4, tok.eosTokenId],
      logprobs: [-1, -2, -3],
      finish: 'stop',
    });
    const e = await failure(run([promptBatch(['ab'])], remoteStage(opts, { tokenizer: tok })));
    expect(e.message).toMatch(
      /re-tokenising choice 0's text gives 2 tokens but the server scored 1/,
    );
    const ids = await fakeServer((_n, _b, res) =>
      res.end(
        JSON.stringify({
          choices: [
            {
              index: 0,
              text: 'a',
              finish_reason: 'stop',
              logprobs: { tokens: ['a'], token_logprobs: [-1] },
            },
          ],
        }),
      ),
    );
    const e2 = await failure(
      run([promptBatch(['ab'])], remoteStage({ ...fast, base_url: ids.url })),
    );
    expect(e2.message).toMatch(/ignored return_tokens_as_token_ids/);
    // vLLM's return_token_ids answer: ids beside plain-text logprob tokens
    const withIds = await fakeServer((_n, body, res) => {
      expect(body.return_token_ids).toBe(true);
      res.end(
        JSON.stringify({
          choices: [
            {
              index: 0,
              text: 'a',
              finish_reason: 'stop',
              token_ids: [3, 2],
              logprobs: { tokens: ['a', ''], token_logprobs: [-1, -2] },
            },
          ],
        }),
      );
    });
    const [viaIds] = await run(
      [promptBatch(['ab'])],
      remoteStage({ ...fast, base_url: withIds.url }),
    );
    expect(rowsOf(viaIds!)[0]).toMatchObject({
      tokens: [3, 2],
      logprobs: [-1, -2],
      text: 'a',
      finish: 'stop',
    });
  });

  it('is registered with its zod schema under the names users know', () => {
    const { schema, create, name } = rolloutRemoteStage;
    expect(name).toBe('rollout.remote');
    const o = schema.parse({ base_url: 'http://h:8000/v1', model: 'm' });
    expect(o).toMatchObject({
      api_key: null,
      max_concurrency: 8,
      max_retries: 5,
      timeout_ms: 600000,
      temperature: 1,
      num_generations_per_prompt: 1,
    });
    expect(() => schema.parse({ base_url: 'http://h/v1', model: 'm', max_concurrency: 0 })).toThrow(
      /max_concurrency/,
    );
    expect(() => schema.parse({ base_url: 'http://h/v1', model: 'm', retries: 3 })).toThrow(
      /retries/,
    );
    expect(typeof create).toBe('function');
  });
});
