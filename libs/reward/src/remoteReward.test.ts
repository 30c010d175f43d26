import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { remoteReward } from './remoteReward';
import { RewardFatalError, type RewardSample } from './sample';

type Handler = (req: IncomingMessage, res: ServerResponse, body: any, n: number) => void;

interface TestServer {
  url: string;
  /** Request bodies received, in order. */
  bodies: any[];
  close(): Promise<void>;
}

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A real HTTP server on loopback whose behaviour for request n (0-based) is `handler`. */
async function serve(handler: Handler): Promise<TestServer> {
  const bodies: any[] = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const body = JSON.parse(raw);
      bodies.push(body);
      handler(req, res, body, bodies.length - 1);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const ts: TestServer = {
    url: `http://127.0.0.1:${port}/score`,
    bodies,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  servers.push(ts);
  return ts;
}

/** The reward the healthy server gives: completion length. */
const answer: Handler = (_req, res, body) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ rewards: body.samples.map((s: RewardSample) => s.completion.length) }));
};

const samples = (n: number): RewardSample[] =>
  Array.from({ length: n }, (_, i) => ({
    prompt: `p${i}`,
    completion: 'x'.repeat(i + 1),
    answer: String(i),
  }));

/** Short backoffs keep the retry tests fast. */
const fast = { backoff_ms: 5, max_backoff_ms: 20 };

describe('remoteReward', () => {
  it('posts chunks of batch_size and keeps sample order', async () => {
    const srv = await serve(answer);
    const fn = remoteReward({ url: srv.url, batch_size: 3, max_concurrency: 2 });
    expect(await fn.batch!(samples(10))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(srv.bodies.map((b) => b.samples.length).sort()).toEqual([1, 3, 3, 3]);
    expect(srv.bodies[0].samples[0]).toEqual({ prompt: 'p0', completion: 'x', answer: '0' });
    expect(await fn(samples(2)[1])).toBe(2); // a single call is a batch of one
  });

  it('retries the first N requests that fail with 500/429 without losing or duplicating a sample', async () => {
    const srv = await serve((req, res, body, n) => {
      if (n < 3) {
        res.writeHead(n === 1 ? 429 : 500);
        res.end('overloaded');
      } else answer(req, res, body, n);
    });
    const fn = remoteReward({
      url: srv.url,
      batch_size: 4,
      max_concurrency: 1,
      max_retries: 3,
      ...fast,
    });
    expect(await fn.batch!(samples(8))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(srv.bodies.length).toBe(2 + 3); // two chunks, three failures
    // every sample was answered exactly once: the successful requests partition the batch
    const answered = srv.bodies
      .slice(3)
      .flatMap((b) => b.samples.map((s: RewardSample) => s.answer));
    expect(answered).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
  });

  it('retries connection resets', async () => {
    const srv = await serve((req, res, body, n) => {
      if (n < 2) req.socket.destroy();
      else answer(req, res, body, n);
    });
    const fn = remoteReward({ url: srv.url, max_retries: 2, ...fast });
    expect(await fn.batch!(samples(3))).toEqual([1, 2, 3]);
    expect(srv.bodies.length).toBe(3);
  });

  it('gives a clear error after max_retries 5xx responses', async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(503);
      res.end('down for maintenance');
    });
    const fn = remoteReward({ url: srv.url, max_retries: 2, ...fast });
    const err = await fn.batch!(samples(2)).catch((e) => e);
    expect(err).toBeInstanceOf(RewardFatalError);
    expect(err.message).toBe(
      `reward.remote ${srv.url} (samples 0..1): failed after 3 attempts (max_retries=2); last error: HTTP 503: down for maintenance`,
    );
    expect(srv.bodies.length).toBe(3);
  });

  it('aborts a hanging request at timeout_ms and retries it', async () => {
    const srv = await serve((req, res, body, n) => {
      if (n > 0) answer(req, res, body, n); // request 0 never gets a response
    });
    const fn = remoteReward({ url: srv.url, timeout_ms: 200, max_retries: 1, ...fast });
    const t0 = performance.now();
    expect(await fn.batch!(samples(2))).toEqual([1, 2]);
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(195);
    expect(elapsed).toBeLessThan(1500);
    expect(srv.bodies.length).toBe(2);
  });

  it('fails with the timeout named when the server always hangs', async () => {
    const srv = await serve(() => undefined);
    const fn = remoteReward({ url: srv.url, timeout_ms: 100, max_retries: 1, ...fast });
    await expect(fn.batch!(samples(1))).rejects.toThrow(
      /failed after 2 attempts .*last error: timed out after 100 ms/,
    );
  });

  it('stops at once on malformed JSON, a wrong count, or a 4xx', async () => {
    const bad = await serve((_req, res) => {
      res.writeHead(200);
      res.end('{"rewards": [1, 2');
    });
    await expect(remoteReward({ url: bad.url, ...fast }).batch!(samples(2))).rejects.toThrow(
      /response is not valid JSON: \{"rewards": \[1, 2/,
    );
    expect(bad.bodies.length).toBe(1);
    const short = await serve((_req, res) => res.end(JSON.stringify({ rewards: [1] })));
    await expect(remoteReward({ url: short.url }).batch!(samples(2))).rejects.toThrow(
      /1 rewards for 2 samples/,
    );
    const nan = await serve((_req, res) => res.end(JSON.stringify({ rewards: [1, 'x'] })));
    await expect(remoteReward({ url: nan.url }).batch!(samples(2))).rejects.toThrow(
      /reward 1 is "x"/,
    );
    const notFound = await serve((_req, res) => {
      res.writeHead(404);
      res.end('no such route');
    });
    await expect(remoteReward({ url: notFound.url, ...fast }).batch!(samples(1))).rejects.toThrow(
      /HTTP 404: no such route/,
    );
    expect(notFound.bodies.length).toBe(1);
  });

  it('reports an unreachable server as a connection error', async () => {
    const srv = await serve(answer);
    const url = srv.url;
    await srv.close();
    servers.pop();
    await expect(remoteReward({ url, max_retries: 1, ...fast }).batch!(samples(1))).rejects.toThrow(
      /failed after 2 attempts .*connection error: ECONNREFUSED/,
    );
  });

  it('maps requests and responses by key, and by function', async () => {
    const srv = await serve((_req, res, body) => {
      res.end(
        JSON.stringify({
          data: { scores: body.inputs.map((x: any) => ({ score: x.completion.length / 10 })) },
        }),
      );
    });
    const fn = remoteReward({
      url: srv.url,
      request_key: 'inputs',
      request_fields: ['completion', 'group_id'],
      response_key: 'data.scores',
      score_key: 'score',
    });
    expect(await fn.batch!([{ prompt: 'a', completion: 'abcde', group_id: 3 }])).toEqual([0.5]);
    expect(srv.bodies[0]).toEqual({ inputs: [{ completion: 'abcde', group_id: 3 }] });
    const custom = remoteReward(
      { url: srv.url },
      {
        request: (ss) => ({ inputs: ss.map((s) => ({ completion: s.completion.toUpperCase() })) }),
        response: (b: any) => b.data.scores.map((x: any) => (x.score > 0.2 ? x.score : null)),
      },
    );
    expect(
      await custom.batch!([
        { prompt: '', completion: 'ab' },
        { prompt: '', completion: 'abc' },
      ]),
    ).toEqual([null, 0.3]);
    expect(srv.bodies[1]).toEqual({ inputs: [{ completion: 'AB' }, { completion: 'ABC' }] });
  });
});
