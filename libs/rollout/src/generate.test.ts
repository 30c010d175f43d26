import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@rxrl/core';
import { CausalLM, presetConfig } from '@rxrl/model';
import { generate } from './generate';
import { CharTokenizer } from './testing/charTokenizer';

const tok = new CharTokenizer();
let model: CausalLM;

beforeAll(async () => {
  await useBackend('wasm');
  model = CausalLM.create(presetConfig('qwen3', 'tiny', tok.vocabSize), { seed: 0 });
});

const P1 = tok.encode('hello world');
const P2 = tok.encode('ab');
const P3 = tok.encode('the quick brown fox');

/** Next-token logits at every position of one unpadded sequence, by a full forward pass (no cache). */
function fullLogits(ids: number[]): Float32Array[] {
  const all = tf.tidy(() => model.logits(tf.tensor2d(ids, [1, ids.length], 'int32')));
  const data = all.dataSync() as Float32Array;
  all.dispose();
  const v = model.config.vocabSize;
  return ids.map((_, t) => data.slice(t * v, (t + 1) * v));
}

function argmaxOf(row: Float32Array): number {
  let b = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[b]!) b = i;
  return b;
}

function logSoftmaxAt(row: Float32Array, token: number): number {
  const m = Math.max(...row);
  return row[token]! - m - Math.log(row.reduce((s, x) => s + Math.exp(x - m), 0));
}

describe('generate', () => {
  it('greedy equals the argmax of a full recompute, log-probs included', async () => {
    const [s] = await generate(model, tok, [P1], {
      temperature: 0,
      max_new_tokens: 10,
      ignore_eos: true,
    });
    const completion = [...s!.completionTokens];
    expect(completion).toHaveLength(10);
    expect(s!.finishReason).toBe('length');
    const rows = fullLogits([...P1, ...completion]);
    completion.forEach((token, t) => {
      const row = rows[P1.length - 1 + t]!;
      expect(token).toBe(argmaxOf(row));
      expect(Math.abs(s!.genLogprobs[t]! - logSoftmaxAt(row, token))).toBeLessThan(1e-4);
    });
  });

  it('top_k = 1 at temperature 1 gives the greedy completion', async () => {
    const opts = { max_new_tokens: 8, ignore_eos: true };
    const greedy = await generate(model, tok, [P1, P2], { ...opts, temperature: 0 });
    const topk1 = await generate(model, tok, [P1, P2], {
      ...opts,
      temperature: 1,
      top_k: 1,
      seed: 123,
    });
    expect(topk1.map((s) => [...s.completionTokens])).toEqual(
      greedy.map((s) => [...s.completionTokens]),
    );
  });

  it('is deterministic per seed and differs across seeds', async () => {
    const opts = { max_new_tokens: 12, ignore_eos: true, num_generations_per_prompt: 2 };
    const a = await generate(model, tok, [P1, P2], { ...opts, seed: 1 });
    const b = await generate(model, tok, [P1, P2], { ...opts, seed: 1 });
    const c = await generate(model, tok, [P1, P2], { ...opts, seed: 2 });
    const toks = (xs: typeof a) => xs.map((s) => [...s.completionTokens]);
    expect(toks(b)).toEqual(toks(a));
    expect(toks(c)).not.toEqual(toks(a));
    // the two generations of one prompt are different draws
    expect(toks(a)[0]).not.toEqual(toks(a)[1]);
    expect(a.map((s) => [s.promptIndex, s.generationIndex])).toEqual([
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ]);
  });

  it("a prompt's samples do not depend on its batch companions", async () => {
    const opts = { max_new_tokens: 8, ignore_eos: true, num_generations_per_prompt: 2, seed: 4 };
    const alone = await generate(model, tok, [P2], opts, { requestKeys: [7] });
    const together = await generate(model, tok, [P3, P2, P1], opts, { requestKeys: [5, 7, 6] });
    expect([...together[2]!.completionTokens]).toEqual([...alone[0]!.completionTokens]);
    expect([...together[3]!.completionTokens]).toEqual([...alone[1]!.completionTokens]);
  });

  it('left padding gives the same greedy completion as generating the prompt alone', async () => {
    const opts = { temperature: 0, max_new_tokens: 10, ignore_eos: true };
    const batched = await generate(model, tok, [P3, P2, P1], opts);
    for (const [i, p] of [P3, P2, P1].entries()) {
      const [alone] = await generate(model, tok, [p], opts);
      expect([...batched[i]!.completionTokens]).toEqual([...alone!.completionTokens]);
      for (let t = 0; t < 10; t++)
        expect(Math.abs(batched[i]!.genLogprobs[t]! - alone!.genLogprobs[t]!)).toBeLessThan(1e-4);
    }
  });

  it('stops at a stop token, keeping it as the last token but not in the text', async () => {
    const [free] = await generate(model, tok, [P1], {
      temperature: 0,
      max_new_tokens: 12,
      ignore_eos: true,
    });
    const g = [...free!.completionTokens];
    const stopId = g[4]!;
    const k = g.indexOf(stopId);
    const [s] = await generate(model, tok, [P1], {
      temperature: 0,
      max_new_tokens: 12,
      ignore_eos: true,
      stop_token_ids: [stopId],
    });
    expect(s!.finishReason).toBe('stop');
    expect([...s!.completionTokens]).toEqual(g.slice(0, k + 1));
    expect(s!.genLogprobs).toHaveLength(k + 1);
    expect(s!.completionText).toBe(tok.decode(g.slice(0, k), { skipSpecialTokens: true }));
  });

  it('stops on the tokenizer EOS unless ignore_eos', async () => {
    // a seed-0 model never favours id 2 by itself: make EOS the greedy choice by asking for it as a stop id and checking both paths
    const [free] = await generate(model, tok, [P2], {
      temperature: 0,
      max_new_tokens: 6,
      ignore_eos: true,
    });
    const first = free!.completionTokens[0]!;
    const eosTok = Object.assign(new CharTokenizer(), { eosTokenId: first });
    const [stopped] = await generate(model, eosTok, [P2], { temperature: 0, max_new_tokens: 6 });
    expect([...stopped!.completionTokens]).toEqual([first]);
    expect(stopped!.finishReason).toBe('stop');
    const [ignored] = await generate(model, eosTok, [P2], {
      temperature: 0,
      max_new_tokens: 6,
      ignore_eos: true,
    });
    expect([...ignored!.completionTokens]).toEqual([...free!.completionTokens]);
  });

  it('stops at a stop string, cutting the text before it and the tokens after the one that completes it', async () => {
    const base = { temperature: 0, max_new_tokens: 16, ignore_eos: true } as const;
    const [free] = await generate(model, tok, [P3], base);
    const g = [...free!.completionTokens];
    const text = free!.completionText;
    const stop = text.slice(5, 7);
    expect(stop).toHaveLength(2);
    const at = text.indexOf(stop);
    let k = 0;
    while (!tok.decode(g.slice(0, k + 1), { skipSpecialTokens: true }).includes(stop)) k++;
    const [s] = await generate(model, tok, [P3], { ...base, stop_strings: ['zzzz', stop] });
    expect(s!.finishReason).toBe('stop');
    expect(s!.completionText).toBe(text.slice(0, at));
    expect([...s!.completionTokens]).toEqual(g.slice(0, k + 1));
    expect(s!.genLogprobs).toHaveLength(k + 1);
    const [inc] = await generate(model, tok, [P3], {
      ...base,
      stop_strings: [stop],
      include_stop_str_in_output: true,
    });
    expect(inc!.completionText).toBe(text.slice(0, at + 2));
    expect(inc!.completionText).toBe(
      tok.decode(inc!.completionTokens, { skipSpecialTokens: true }),
    );
  });

  it("max_new_tokens ends a sample with finish_reason 'length' and exactly that many tokens", async () => {
    const out = await generate(model, tok, [P1, P2], {
      max_new_tokens: 5,
      ignore_eos: true,
      num_generations_per_prompt: 3,
    });
    expect(out).toHaveLength(6);
    for (const s of out) {
      expect(s.finishReason).toBe('length');
      expect(s.completionTokens).toHaveLength(5);
      expect(s.genLogprobs).toHaveLength(5);
      for (const lp of s.genLogprobs) expect(lp).toBeLessThanOrEqual(0);
      expect(s.completionText).toBe(tok.decode(s.completionTokens, { skipSpecialTokens: true }));
    }
  });

  it('decodes in several batches when rows exceed generation_batch_size, with the same result', async () => {
    const opts = { max_new_tokens: 6, ignore_eos: true, num_generations_per_prompt: 3, seed: 8 };
    const one = await generate(model, tok, [P1, P2, P3], opts);
    const many = await generate(model, tok, [P1, P2, P3], { ...opts, generation_batch_size: 2 });
    expect(many.map((s) => [...s.completionTokens])).toEqual(
      one.map((s) => [...s.completionTokens]),
    );
  });

  it('names bad prompts and options', async () => {
    await expect(generate(model, tok, [P1, []], {})).rejects.toThrow(/prompt 1 is empty/);
    await expect(generate(model, tok, [[3, 999]], {})).rejects.toThrow(
      /token id 999 at 1, outside the model's vocabulary \[0, 67\)/,
    );
    await expect(generate(model, tok, [P1], { top_p: 0 })).rejects.toThrow(/top_p/);
    const limit = model.config.maxPositionEmbeddings;
    await expect(generate(model, tok, [P2], { max_new_tokens: limit - 1 })).rejects.toThrow(
      new RegExp(
        `prompt 0 has 2 tokens; with max_new_tokens ${limit - 1} that exceeds the model's max_position_embeddings ${limit}`,
      ),
    );
    await expect(generate(model, tok, [P1], { max_tokens: 3 } as any)).rejects.toThrow(
      /max_tokens/,
    );
  });

  it('keeps the tensor count flat over many calls (leak test)', async () => {
    const opts = { max_new_tokens: 4, num_generations_per_prompt: 2, stop_strings: ['a'] };
    await generate(model, tok, [P1, P2], opts);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 10; i++) await generate(model, tok, [P1, P2], { ...opts, seed: i });
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('generate sampling on the device', () => {
  it('draws the same tokens as the host path for greedy, top-k and top-p, log-probs within 1e-4 (vocab 20,000)', async () => {
    const big = CausalLM.create(presetConfig('qwen2', 'tiny', 20000), { seed: 3 });
    try {
      const prompts = [
        [5, 900, 17000, 3],
        [42, 19999],
      ];
      for (const opts of [
        { temperature: 0 },
        { temperature: 0.8, top_k: 40, top_p: 0.9, min_p: 0.01 },
        { temperature: 1.3, top_k: 7 },
        // no top-k: the candidates widen until the nucleus fits
        { temperature: 0.9, top_p: 0.3 },
        { temperature: 1, top_p: 0.95, min_p: 0.001 },
      ]) {
        const o = {
          ...opts,
          max_new_tokens: 6,
          ignore_eos: true,
          num_generations_per_prompt: 2,
          seed: 6,
        };
        const host = await generate(big, tok, prompts, o, { deviceSampling: false });
        const before = tf.memory().numTensors;
        const device = await generate(big, tok, prompts, o, { deviceSampling: true });
        expect(tf.memory().numTensors).toBe(before);
        expect(device.map((s) => [...s.completionTokens])).toEqual(
          host.map((s) => [...s.completionTokens]),
        );
        device.forEach((s, i) =>
          s.genLogprobs.forEach((lp, t) =>
            expect(Math.abs(lp - host[i]!.genLogprobs[t]!)).toBeLessThan(1e-4),
          ),
        );
      }
    } finally {
      big.dispose();
    }
  });
});

describe('generate drops finished rows from the batch', () => {
  it('gives the same samples with and without compaction', async () => {
    // many stop ids: rows end after a few tokens, at different steps
    const stop_token_ids = Array.from({ length: 12 }, (_, i) => 3 + 5 * i);
    const o = {
      max_new_tokens: 14,
      num_generations_per_prompt: 4,
      seed: 2,
      stop_token_ids,
      ignore_eos: true,
    };
    const prompts = [P1, P2, P3];
    const plain = await generate(model, tok, prompts, o, { compact: false });
    const before = tf.memory().numTensors;
    const compacted = await generate(model, tok, prompts, o, { compact: true });
    expect(tf.memory().numTensors).toBe(before);
    // the run really compacts: at some step half the 12 rows or more are done, some still live
    const b = plain.length;
    const liveAfter = (t: number) =>
      plain.filter((s) => s.finishReason === 'length' || s.completionTokens.length > t + 1).length;
    expect(
      Array.from({ length: 13 }, (_, t) => liveAfter(t)).some(
        (a) => a > 0 && a <= b / 2 && b - a >= 2,
      ),
    ).toBe(true);
    expect(compacted.map((s) => [...s.completionTokens])).toEqual(
      plain.map((s) => [...s.completionTokens]),
    );
    expect(compacted.map((s) => s.finishReason)).toEqual(plain.map((s) => s.finishReason));
    compacted.forEach((s, i) =>
      s.genLogprobs.forEach((lp, t) =>
        expect(Math.abs(lp - plain[i]!.genLogprobs[t]!)).toBeLessThan(1e-5),
      ),
    );
  });
});

describe('generate prefills each distinct prompt once', () => {
  it('gives the same samples as prefilling every row', async () => {
    const o = {
      max_new_tokens: 8,
      num_generations_per_prompt: 3,
      seed: 12,
      ignore_eos: true,
      top_p: 0.9,
    };
    const prompts = [P3, P2, P1];
    const each = await generate(model, tok, prompts, o, { sharePrefill: false });
    const before = tf.memory().numTensors;
    const shared = await generate(model, tok, prompts, o, { sharePrefill: true });
    expect(tf.memory().numTensors).toBe(before);
    expect(shared.map((s) => [...s.completionTokens])).toEqual(
      each.map((s) => [...s.completionTokens]),
    );
    shared.forEach((s, i) =>
      s.genLogprobs.forEach((lp, t) =>
        expect(Math.abs(lp - each[i]!.genLogprobs[t]!)).toBeLessThan(1e-5),
      ),
    );
    // the generations of one prompt still differ
    expect([...shared[0]!.completionTokens]).not.toEqual([...shared[1]!.completionTokens]);
  });
});
