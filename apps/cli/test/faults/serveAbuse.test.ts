// `rxrl serve` under abuse (issue 21): each attack replayed against a real `rxrl serve` child
// process on loopback, bounded in count and time. After each, a normal request must answer
// within 1 s and the server's RSS must settle near its baseline; during the large ones /health
// must keep answering within 100 ms. The server also serves a LoRA adapter by name (--lora-modules),
// and the last test replays the limits against it.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { root } from './tinySft';

const HOST = '127.0.0.1';
/** RSS may sit this far above the baseline once an attack is over (it was +750 MB and +1.4 GB). */
const RSS_SLACK_MB = 100;

let child: ChildProcess;
let url = '';
let port = 0;
const stderr: string[] = [];
/** --max-body-bytes as the server printed it at startup. */
let bodyLimit = 0;
let baselineMb = 0;

function rssMb(): number {
  const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/** Poll RSS for up to 5 s until it is within the slack of the baseline; the last reading. */
async function settledRssMb(): Promise<number> {
  let mb = rssMb();
  for (let i = 0; i < 50 && mb > baselineMb + RSS_SLACK_MB; i++) {
    await sleep(100);
    mb = rssMb();
  }
  return mb;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function post(route: string, body: unknown, signal?: AbortSignal): Promise<Response> {
  return fetch(`${url}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal,
  });
}

/** The normal request every attack is followed by: it must answer (correctly) within 1 s. */
async function normalRequestMs(model = 'arith-sft'): Promise<number> {
  const t0 = performance.now();
  const r = await post(
    '/v1/completions',
    // a two-digit problem the shipped policy answers greedily (it rarely sees one-digit ones)
    { model, prompt: '23+45=', max_tokens: 4, temperature: 0 },
    AbortSignal.timeout(1000),
  );
  const body = (await r.json()) as { choices: { text: string }[] };
  expect(r.status).toBe(200);
  expect(body.choices[0]!.text).toBe('68');
  return performance.now() - t0;
}

/** Per attack, what recovery looked like (printed at the end, for the README's figures). */
const recovery: string[] = [];

/** After an attack: a normal request within 1 s, RSS back within the slack. */
async function expectRecovered(attack: string, slowestHealthMs?: number): Promise<void> {
  const ms = await normalRequestMs();
  const mb = await settledRssMb();
  recovery.push(
    `${attack}: normal request ${ms.toFixed(0)} ms, RSS ${mb.toFixed(0)} MB (baseline ${baselineMb.toFixed(0)})${slowestHealthMs === undefined ? '' : `, slowest /health ${slowestHealthMs.toFixed(0)} ms`}`,
  );
  expect(ms).toBeLessThan(1000);
  expect(mb).toBeLessThan(baselineMb + RSS_SLACK_MB);
}

/**
 * Run `attack` while polling /health every 10 ms; the slowest /health answer, in ms. On a
 * shared, loaded 2-core machine the scheduler alone can delay one answer past 100 ms (98 ms
 * seen during a whole `npm test`), so while a replay has a slow answer the attack is replayed,
 * up to three times, and the best replay counts; a server that freezes (1.5 s without the
 * tokenising probe) is slow in every one.
 */
async function slowestHealthDuring(attack: () => Promise<unknown>): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < 3 && best >= 100; i++) best = Math.min(best, await slowestHealthOnce(attack));
  return best;
}

async function slowestHealthOnce(attack: () => Promise<unknown>): Promise<number> {
  let done = false;
  let slowest = 0;
  const probe = (async () => {
    while (!done) {
      const t0 = performance.now();
      const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) });
      expect(r.status).toBe(200);
      await r.arrayBuffer();
      slowest = Math.max(slowest, performance.now() - t0);
      await sleep(10);
    }
  })();
  try {
    await attack();
  } finally {
    done = true;
    await probe;
  }
  return slowest;
}

/** Open a raw TCP connection, write `data`, and collect what comes back until the server closes. */
function rawExchange(
  data: (Buffer | string)[],
  waitMs = 5000,
): Promise<{ text: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const socket = net.connect(port, HOST);
    let text = '';
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on('connect', () => {
      for (const d of data) socket.write(d);
    });
    socket.on('data', (b) => (text += b.toString('latin1')));
    socket.on('error', (e) => {
      // the server may close while the rest is still being written
      const code = (e as NodeJS.ErrnoException).code ?? '';
      if (code !== 'ECONNRESET' && code !== 'EPIPE') reject(e);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closedAfterMs: performance.now() - t0 });
    });
  });
}

const completionHead = (length: number) =>
  `POST /v1/completions HTTP/1.1\r\nHost: ${HOST}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;

/** A PEFT LoRA adapter of models/arith-sft (B = 0: it answers as the base), served as 'lora'. */
const loraDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-serve-abuse-'));

beforeAll(async () => {
  if (process.platform !== 'linux') return;
  const { useBackend } = await import('@rxrl/core');
  const { loadPretrained, LoraAdapter, savePeftAdapter } = await import('@rxrl/model');
  await useBackend('wasm');
  const base = await loadPretrained(path.join(root, 'models/arith-sft'));
  const adapter = LoraAdapter.create(
    base,
    { r: 2, target_modules: ['q_proj', 'v_proj'] },
    { seed: 0 },
  );
  await savePeftAdapter(base.withAdapter(adapter), loraDir);
  adapter.dispose();
  base.dispose();
  child = spawn(
    process.execPath,
    [
      'apps/cli/bin/rxrl.js',
      'serve',
      '--model',
      'models/arith-sft',
      '--lora-modules',
      `lora=${loraDir}`,
      '--port',
      '0',
      '--backend',
      'wasm',
      '--request-timeout',
      '2',
      '--headers-timeout',
      '2',
      '--max-connections',
      '128',
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stderr!.on('data', (b: Buffer) => stderr.push(...b.toString().split('\n').filter(Boolean)));
  url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /at (http:\/\/127\.0\.0\.1:\d+)\/v1[^]*--max-body-bytes (\d+)/.exec(out);
      if (m) {
        bodyLimit = Number(m[2]);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) =>
      reject(new Error(`rxrl serve exited ${code}: ${stderr.join('\n')}`)),
    );
  });
  port = Number(new URL(url).port);
  // warm up (first batch compiles the kernels), then take the baseline
  for (let i = 0; i < 3; i++) await normalRequestMs();
  baselineMb = rssMb();
});

afterAll(async () => {
  fs.rmSync(loraDir, { recursive: true, force: true });
  console.log(recovery.join('\n'));
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
});

// RSS is read from /proc
describe.skipIf(process.platform !== 'linux')(
  'rxrl serve under abuse (each attack replayed on loopback, then a normal request)',
  () => {
    it('1. 60,000 prompts × n=128 (7.68M sequences) is refused before any work: 413, and 400 under the body limit', async () => {
      const big = JSON.stringify({
        model: 'arith-sft',
        prompt: Array<string>(60000).fill('1+1='),
        n: 128,
        max_tokens: 4,
      });
      expect(big.length).toBeGreaterThan(400_000);
      // the same under the body limit: the prompts × n cap
      const small = JSON.stringify({
        model: 'arith-sft',
        prompt: Array<string>(20000).fill('1+1='),
        n: 128,
        max_tokens: 4,
      });
      const slowest = await slowestHealthDuring(async () => {
        const r = await post('/v1/completions', big);
        expect(r.status).toBe(413);
        const under = await post('/v1/completions', small);
        expect(under.status).toBe(400);
        const e = ((await under.json()) as { error: { param: string; message: string } }).error;
        expect(e.param).toBe('prompt');
        expect(e.message).toMatch(/2560000 sequences .* at most 256 per request/);
      });
      expect(slowest).toBeLessThan(100);
      await expectRecovered('1 prompts x n', slowest);
    });

    it('2. lockout: 2000 prompts × 128 is a 400; a full queue answers 503 + Retry-After, and clients that leave free the worker', async () => {
      const r = await post('/v1/completions', {
        model: 'arith-sft',
        prompt: Array<string>(2000).fill('1+1='),
        n: 128,
        max_tokens: 4,
      });
      expect(r.status).toBe(400);

      // six clients of 256 long sequences each: 4 fill the queue (1024 + 32 decoding), the rest get 503
      const clients = Array.from({ length: 6 }, () => new AbortController());
      let settled = 0;
      const answers = clients.map((ac, i) =>
        post(
          '/v1/completions',
          {
            model: 'arith-sft',
            prompt: Array<string>(256).fill(`${i}+1=`),
            max_tokens: 59,
            ignore_eos: true,
            seed: i,
          },
          ac.signal,
        )
          .then(
            (res) => ({ status: res.status, retryAfter: res.headers.get('retry-after') }),
            () => ({ status: 0, retryAfter: null }),
          )
          .finally(() => settled++),
      );
      // the two refusals come back at once; then let the admitted ones decode a little and leave
      for (let i = 0; i < 100 && settled < 2; i++) await sleep(50);
      await sleep(300);
      for (const ac of clients) ac.abort();
      const got = await Promise.all(answers);
      const refused = got.filter((g) => g.status === 503);
      expect(refused).toHaveLength(2);
      for (const g of refused) expect(g.retryAfter).toBe('1');
      expect(got.filter((g) => g.status === 0)).toHaveLength(4);
      // 1024 sequences × 59 tokens were queued, 32 at a time: the aborted ones are dropped before their prefill
      await expectRecovered('2 lockout');
      const dropped = stderr.filter((l) =>
        / 499 .*seqs=256 \(client closed the connection\)$/.test(l),
      );
      expect(dropped).toHaveLength(4);
    });

    it('3. large requests: 5 MB and 7.5M-token bodies get 413 at once; while the largest the limit lets through are tokenised, /health answers within 100 ms', async () => {
      const t0 = performance.now();
      const huge = await post('/v1/completions', {
        model: 'arith-sft',
        prompt: '1'.repeat(5 * 1024 * 1024),
      });
      expect(huge.status).toBe(413);
      const ids = await post(
        '/v1/completions',
        `{"model":"arith-sft","prompt":[${Array<string>(7_500_000).fill('5').join(',')}]}`,
      );
      expect(ids.status).toBe(413);
      expect(performance.now() - t0).toBeLessThan(5000);

      const limit = bodyLimit;
      const text = '1+'.repeat(Math.floor((limit - 200) / 2)) + '1=';
      const idList = Array<number>(Math.floor((limit - 200) / 2)).fill(5);
      const many = Array.from({ length: 255 }, (_, i) => `${i}+${i % 7}=`);
      // serialised up front: the probe measures the server, not this process building bodies
      const bodies: [string, string][] = [
        // one text prompt at the body limit: more than 16 characters per token of context, refused untokenised
        ['/v1/completions', JSON.stringify({ model: 'arith-sft', prompt: text, max_tokens: 1 })],
        // 1000 characters: refused after tokenising a probe of 4 × max_model_len characters
        [
          '/v1/completions',
          JSON.stringify({ model: 'arith-sft', prompt: text.slice(0, 1000), max_tokens: 1 }),
        ],
        // a token-id prompt at the body limit
        ['/v1/completions', JSON.stringify({ model: 'arith-sft', prompt: idList, max_tokens: 1 })],
        // a chat message at the body limit
        [
          '/v1/chat/completions',
          JSON.stringify({
            model: 'arith-sft',
            messages: [{ role: 'user', content: text }],
            max_tokens: 1,
          }),
        ],
        // 256 prompts, tokenised one per turn of the event loop; the last is refused
        [
          '/v1/completions',
          JSON.stringify({
            model: 'arith-sft',
            prompt: [...many, text.slice(0, 200_000)],
            max_tokens: 4,
          }),
        ],
      ];
      for (const [, b] of bodies) expect(b.length).toBeLessThanOrEqual(limit);
      const answers: string[] = [];
      const slowest = await slowestHealthDuring(async () => {
        for (const [route, b] of bodies) {
          const r = await post(route, b);
          const e = ((await r.json()) as { error: { param: string; message: string } }).error;
          answers.push(`${r.status} ${e.param}: ${e.message.replace(/^.*However, /, '')}`);
        }
      });
      expect(answers.slice(0, 5)).toEqual([
        `400 prompt: the prompt is ${text.length} characters, more than 16 per token of context.`,
        '400 prompt: the prompt alone has at least 241 tokens.',
        `400 prompt: the prompt alone has ${idList.length} tokens.`,
        expect.stringMatching(/^400 messages: the prompt is \d+ characters, more than 16 per/),
        '400 prompt.255: the prompt is 200000 characters, more than 16 per token of context.',
      ]);
      expect(slowest).toBeLessThan(100);
      await expectRecovered('3 large requests', slowest);
    });

    it('4. stalled uploads time out (408 after --request-timeout 2), oversized ones get 413 at once, and connections are capped', async () => {
      const limit = bodyLimit;
      const chunk = Buffer.alloc(100_000, 0x20);
      // 50 uploads under the limit that stall after 100 kB, and 50 announcing 15 MB
      const stalled = Array.from({ length: 50 }, () =>
        rawExchange([completionHead(limit - 10), chunk]),
      );
      const oversized = Array.from({ length: 50 }, () =>
        rawExchange([completionHead(15_000_000), chunk]),
      );
      // and headers that never finish
      const headersStall = rawExchange([`POST /v1/completions HTTP/1.1\r\nHost: ${HOST}\r\n`]);
      const big = await Promise.all(oversized);
      for (const r of big) {
        expect(r.text).toMatch(/^HTTP\/1\.1 413 /);
        expect(r.closedAfterMs).toBeLessThan(4000);
      }
      const slow = await Promise.all(stalled);
      for (const r of slow) {
        expect(r.text).toMatch(/^HTTP\/1\.1 408 /);
        expect(r.closedAfterMs).toBeLessThan(4500);
      }
      const headers = await headersStall;
      expect(headers.text).toMatch(/^HTTP\/1\.1 408 /);
      expect(headers.closedAfterMs).toBeLessThan(4500);

      // 140 idle connections against --max-connections 128: those past the cap are closed at once
      const sockets = await Promise.all(
        Array.from(
          { length: 140 },
          () =>
            new Promise<{ socket: net.Socket; closed: () => boolean }>((resolve) => {
              let closed = false;
              const socket = net.connect(port, HOST, () =>
                resolve({ socket, closed: () => closed }),
              );
              socket.on('close', () => (closed = true));
              socket.on('error', () => undefined);
            }),
        ),
      );
      await sleep(300);
      // this process's own idle keep-alive connections (fetch's pool, a few) count too
      const open = sockets.filter((s) => !s.closed()).length;
      expect(open).toBeLessThanOrEqual(128);
      expect(open).toBeGreaterThanOrEqual(120);
      // one warning line per closed connection
      await sleep(100);
      const drops = stderr.filter((l) =>
        / WARNING connection from 127\.0\.0\.1:\d+ closed: 128 are open/.test(l),
      );
      expect(drops).toHaveLength(140 - open);
      for (const s of sockets) s.socket.destroy();
      await sleep(100);
      await expectRecovered('4 stalled uploads');
    });

    it('5. a too-large body gets a real 413 the client can read (Content-Length, 100-continue, chunked), not a reset', async () => {
      const body = JSON.stringify({ model: 'arith-sft', prompt: 'x'.repeat(1_000_000) });
      const r = await post('/v1/completions', body);
      expect(r.status).toBe(413);
      expect(
        ((await r.json()) as { error: { code: number; message: string } }).error,
      ).toMatchObject({
        code: 413,
        message: expect.stringMatching(/at most \d+ \(--max-body-bytes\)/),
      });
      // the whole body sent at once, without waiting for the answer
      const raw = await rawExchange([completionHead(body.length), body]);
      expect(raw.text).toMatch(/^HTTP\/1\.1 413 /);
      expect(raw.text).toMatch(/"code":413/);
      // Expect: 100-continue: refused before the body is sent (no 100 Continue first)
      const cont = await rawExchange([
        completionHead(body.length).replace('\r\n\r\n', '\r\nExpect: 100-continue\r\n\r\n'),
      ]);
      expect(cont.text).toMatch(/^HTTP\/1\.1 413 /);
      // chunked, no Content-Length: refused once the limit is passed
      const size = (bodyLimit + 100_000).toString(16);
      const chunked = await rawExchange([
        `POST /v1/completions HTTP/1.1\r\nHost: ${HOST}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${size}\r\n`,
        Buffer.alloc(bodyLimit + 100_000, 0x20),
        '\r\n0\r\n\r\n',
      ]);
      expect(chunked.text).toMatch(/^HTTP\/1\.1 413 /);
      await expectRecovered('5 413');
    });

    it('6. a malformed URL is a 400, not a 500', async () => {
      for (const u of ['/v1/models/%', '/v1/models/%zz', '/v1/models/%E0%A4%A']) {
        const r = await fetch(`${url}${u}`);
        expect(r.status).toBe(400);
        expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(
          /malformed URL/,
        );
      }
      await expectRecovered('6 bad URL');
    });

    it('7. temperatures below the 1e-5 floor decode greedily, with the greedy log-probs', async () => {
      const ask = async (temperature: number) => {
        const r = await post('/v1/completions', {
          model: 'arith-sft',
          prompt: ['12+30=', '7+8='],
          max_tokens: 6,
          temperature,
          logprobs: 2,
          seed: 1,
        });
        expect(r.status).toBe(200);
        return (
          (await r.json()) as {
            choices: { text: string; logprobs: { token_logprobs: number[] } }[];
          }
        ).choices;
      };
      const greedy = await ask(0);
      for (const t of [1e-320, 1e-40, 9e-6]) {
        const got = await ask(t);
        expect(got.map((c) => c.text)).toEqual(greedy.map((c) => c.text));
        got.forEach((c, i) => {
          for (const [j, lp] of c.logprobs.token_logprobs.entries()) {
            expect(Number.isFinite(lp) && lp <= 0).toBe(true);
            expect(lp).toBeCloseTo(greedy[i]!.logprobs.token_logprobs[j]!, 10);
          }
        });
      }
      await expectRecovered('7 temperature');
    });

    it('8. huge model names are not echoed whole; one log line per request and per error', async () => {
      // the last request's line is written when its response closes, which may be after the client has it
      await sleep(200);
      const before = stderr.length;
      const name = 'm'.repeat(300_000);
      const r = await post('/v1/completions', { model: name, prompt: '1+1=' });
      expect(r.status).toBe(404);
      const text = await r.text();
      expect(text.length).toBeLessThan(400);
      expect(text).toMatch(/m… \(300000 characters\)/);
      const byUrl = await fetch(`${url}/v1/models/${'n'.repeat(10_000)}`);
      expect(byUrl.status).toBe(404);
      expect((await byUrl.text()).length).toBeLessThan(400);
      await normalRequestMs();
      await sleep(200);
      // (a connection of an earlier test may log its own line meanwhile: count these requests' lines)
      const lines = stderr.slice(before);
      // two refused requests and one normal one: a line for each request, one more for each error
      expect(
        lines.filter((l) => / INFO POST \/v1\/completions 404 [\d.]+ms seqs=0$/.test(l)),
      ).toHaveLength(1);
      expect(
        lines.filter((l) => / INFO GET \/v1\/models\/n+… \(10011 characters\) 404 /.test(l)),
      ).toHaveLength(1);
      expect(
        lines.filter((l) => / WARNING (POST|GET) .* 404 .*does not exist/.test(l)),
      ).toHaveLength(2);
      expect(lines.filter((l) => / 404 /.test(l))).toHaveLength(4);
      expect(
        lines.filter((l) => / INFO POST \/v1\/completions 200 [\d.]+ms seqs=1$/.test(l)),
      ).toHaveLength(1);
      for (const l of lines) expect(l.length).toBeLessThan(600);
      await expectRecovered('8 model name');
    });

    it('9. a LoRA adapter served by name (--lora-modules) is under the same limits: 413, 400s, 503, timeouts, logged', async () => {
      const models = (await (await fetch(`${url}/v1/models`)).json()) as {
        data: { id: string; parent?: string; max_model_len: number }[];
      };
      expect(models.data.map((m) => [m.id, m.parent, m.max_model_len])).toEqual([
        ['arith-sft', undefined, 64],
        ['lora', 'arith-sft', 64],
      ]);
      await sleep(200);
      const before = stderr.length;
      const slowest = await slowestHealthDuring(async () => {
        // the body limit holds before the body (and its model) is read
        const big = await post('/v1/completions', {
          model: 'lora',
          prompt: Array<string>(60000).fill('1+1='),
          n: 128,
        });
        expect(big.status).toBe(413);
        // prompts × n
        const many = await post('/v1/completions', {
          model: 'lora',
          prompt: Array<string>(2000).fill('1+1='),
          n: 128,
          max_tokens: 4,
        });
        expect(many.status).toBe(400);
        expect(((await many.json()) as { error: { param: string } }).error.param).toBe('prompt');
        // the adapter's context (max_tokens before any tokenising, then a long text untokenised)
        const long = await post('/v1/completions', { model: 'lora', prompt: '1', max_tokens: 64 });
        expect(long.status).toBe(400);
        const text = await post('/v1/chat/completions', {
          model: 'lora',
          messages: [{ role: 'user', content: '1+'.repeat(100_000) }],
        });
        expect(text.status).toBe(400);
        expect(((await text.json()) as { error: { message: string } }).error.message).toMatch(
          /maximum context length is 64/,
        );
      });
      expect(slowest).toBeLessThan(100);
      // admission counts every model's sequences together: 3 clients of 256 on the base and 2 on
      // the adapter pass 1024 + 32; one of them is refused 503 + Retry-After, the rest leave
      const clients = Array.from({ length: 5 }, () => new AbortController());
      let settled = 0;
      const answers = clients.map((ac, i) =>
        post(
          '/v1/completions',
          {
            model: i < 3 ? 'arith-sft' : 'lora',
            prompt: Array<string>(256).fill(`${i}+1=`),
            max_tokens: 59,
            ignore_eos: true,
          },
          ac.signal,
        )
          .then(
            (res) => ({ status: res.status, retryAfter: res.headers.get('retry-after') }),
            () => ({ status: 0, retryAfter: null }),
          )
          .finally(() => settled++),
      );
      for (let i = 0; i < 100 && settled < 1; i++) await sleep(50);
      await sleep(300);
      for (const ac of clients) ac.abort();
      const got = await Promise.all(answers);
      const refused = got.filter((g) => g.status === 503);
      expect(refused).toHaveLength(1);
      expect(refused[0]!.retryAfter).toBe('1');
      expect(got.filter((g) => g.status === 0)).toHaveLength(4);
      // a stalled upload to the adapter times out like any other
      const stalled = await rawExchange([completionHead(1000), '{"model":"lora","prompt":'], 6000);
      expect(stalled.text).toMatch(/^HTTP\/1\.1 408 /);
      await normalRequestMs('lora');
      await sleep(200);
      const lines = stderr.slice(before);
      expect(lines.some((l) => / INFO POST \/v1\/completions 413 /.test(l))).toBe(true);
      expect(lines.some((l) => / WARNING POST \/v1\/completions 400 prompt: /.test(l))).toBe(true);
      expect(lines.some((l) => / INFO POST \/v1\/completions 503 /.test(l))).toBe(true);
      expect(lines.some((l) => / INFO POST \/v1\/completions 200 .* seqs=1$/.test(l))).toBe(true);
      await expectRecovered('9 LoRA adapter', slowest);
      // once the abandoned requests are dropped, the adapter answers within 1 s
      expect(await normalRequestMs('lora')).toBeLessThan(1000);
    });
  },
);
