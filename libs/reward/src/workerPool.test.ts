import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { RewardWorkerPool, workerPoolOptions } from './workerPool';
import { workerReward } from './workerReward';
import { RewardFatalError, type RewardFailure, type RewardSample } from './sample';

const MJS = fileURLToPath(new URL('../test/fixtures/verifiers.mjs', import.meta.url));
const TS = fileURLToPath(new URL('../test/fixtures/tsVerifier.ts', import.meta.url));
const s = (completion: string, answer?: string): RewardSample => ({
  prompt: 'p',
  completion,
  answer,
});

const pools: RewardWorkerPool[] = [];
const make = (o: ConstructorParameters<typeof RewardWorkerPool>[0]) => {
  const p = new RewardWorkerPool(o);
  pools.push(p);
  return p;
};
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

describe('RewardWorkerPool', () => {
  it('defaults to cores − 1 workers, at least 1', () => {
    expect(workerPoolOptions.parse({ module: MJS }).num_workers).toBe(
      Math.max(1, availableParallelism() - 1),
    );
  });

  it('runs a .mjs verifier', async () => {
    const pool = make({ module: MJS, export: 'containsAnswer', num_workers: 2 });
    const out = await Promise.all(
      [s('x is 7', '7'), s('x is 8', '7'), s('7', '7')].map((x) => pool.run(x)),
    );
    expect(out.map((o) => o.value)).toEqual([1, 0, 1]);
    expect(out.every((o) => o.status === 'ok')).toBe(true);
    expect(pool.size).toBe(2);
  });

  it('runs a .ts verifier through tsx, and refuses it without a loader', async () => {
    const pool = make({ module: TS, export: 'endsWithAnswer', num_workers: 1 });
    expect((await pool.run(s('so 12', '12'))).value).toBe(1);
    expect((await pool.run(s('12 so', '12'))).value).toBe(0);
    const native = make({ module: TS, export: 'endsWithAnswer', num_workers: 1, loader: 'native' });
    await expect(native.run(s('a'))).rejects.toThrow(
      /cannot load verifier '.*tsVerifier\.ts' export 'endsWithAnswer'/,
    );
  });

  it('terminates a hung verifier at the timeout, returns null, and keeps serving', async () => {
    const timeout = 400;
    const pool = make({
      module: MJS,
      export: 'hangOnRequest',
      num_workers: 2,
      timeout_ms: timeout,
    });
    await Promise.all([pool.run(s('warm')), pool.run(s('warm'))]); // threads loaded
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 20); // the main thread stays responsive meanwhile
    const t0 = performance.now();
    const [hung, fine] = await Promise.all([pool.run(s('please hang')), pool.run(s('fine'))]);
    const elapsed = performance.now() - t0;
    clearInterval(ticker);
    expect(hung).toMatchObject({ value: null, status: 'timeout' });
    expect(fine).toEqual({ value: 4, status: 'ok' });
    expect(elapsed).toBeGreaterThanOrEqual(timeout - 5);
    expect(elapsed).toBeLessThan(timeout + 1000);
    expect(ticks).toBeGreaterThan(5);
    // next batch: the replaced thread loads and serves
    const next = await Promise.all(['abc', 'abcd', 'hang again', 'ab'].map((c) => pool.run(s(c))));
    expect(next.map((o) => o.value)).toEqual([3, 4, null, 2]);
    expect(pool.stats).toEqual({ completed: 6, timeouts: 2, errors: 0, restarts: 2 });
    expect(pool.size).toBeLessThanOrEqual(2);
  });

  it('gives a throwing or non-numeric verifier null with status error', async () => {
    const pool = make({ module: MJS, export: 'throwOnRequest', num_workers: 1 });
    const out = await Promise.all(['ok', 'throw me', 'fine'].map((c) => pool.run(s(c))));
    expect(out.map((o) => o.value)).toEqual([2, null, 4]);
    expect(out[1].status).toBe('error');
    expect(out[1].detail).toMatch(/verifier refused 'throw me'/);
    expect(pool.stats.errors).toBe(1);
    const nan = make({ module: MJS, export: 'notANumber', num_workers: 1 });
    expect(await nan.run(s('x'))).toMatchObject({
      value: null,
      status: 'error',
      detail: expect.stringMatching(/returned "seven"/),
    });
  });

  it('survives a verifier that exits its thread or never settles', async () => {
    const exiting = make({ module: MJS, export: 'exitOnRequest', num_workers: 1 });
    const out = await Promise.all(['ab', 'exit now', 'abcd'].map((c) => exiting.run(s(c))));
    expect(out.map((o) => o.value)).toEqual([2, null, 4]);
    expect(out[1]).toMatchObject({ status: 'error', detail: 'worker exited with code 3' });
    const waiting = make({ module: MJS, export: 'neverSettles', num_workers: 1, timeout_ms: 150 });
    const w = await Promise.all(['wait', 'abc'].map((c) => waiting.run(s(c))));
    expect(w).toEqual([
      { value: null, status: 'timeout', detail: 'no result after 150 ms' },
      { value: 3, status: 'ok' },
    ]);
  });

  it('fails in-flight and queued samples on close instead of leaving them pending', async () => {
    const pool = make({ module: MJS, export: 'hangOnRequest', num_workers: 1, timeout_ms: 60_000 });
    await pool.run(s('warm'));
    const pending = [pool.run(s('hang')), pool.run(s('queued'))].map((p) =>
      p.catch((e: Error) => e.message),
    );
    const t0 = performance.now();
    await pool.close();
    expect(await Promise.all(pending)).toEqual([
      'reward.worker: pool closed with samples pending',
      'reward.worker: pool closed with samples pending',
    ]);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(pool.size).toBe(0);
  });

  it('fails fast and clearly when the export does not exist', async () => {
    const pool = make({ module: MJS, export: 'missing', num_workers: 1 });
    const err = await pool.run(s('x')).catch((e) => e);
    expect(err).toBeInstanceOf(RewardFatalError);
    expect(err.message).toMatch(/has no exported function 'missing'/);
    await expect(pool.run(s('y'))).rejects.toBe(err);
  });
});

describe('workerReward', () => {
  it('reports timeouts and errors to the context', async () => {
    const fn = workerReward({
      module: MJS,
      export: 'hangOnRequest',
      num_workers: 1,
      timeout_ms: 300,
    });
    const reports: RewardFailure[] = [];
    const ctx = { report: (k: RewardFailure) => void reports.push(k) };
    expect(fn.pool).toBeUndefined(); // no threads until used
    expect(await fn(s('hang'), ctx)).toBeNull();
    expect(await fn(s('xyz'), ctx)).toBe(3);
    expect(reports).toEqual(['timeout']);
    expect(fn.pool?.stats.timeouts).toBe(1);
    await fn.close();
  });
});
