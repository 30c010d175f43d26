import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@rxrl/core';
import { BuiltinTokenizer } from '@rxrl/data';
import { CausalLM, fromHfConfig, presetHfConfig } from '@rxrl/model';
import { generate, type GeneratedSample } from '@rxrl/rollout';
import { WorkerGenerator } from './workerGenerator';

const tokenizer = new BuiltinTokenizer();
let model: CausalLM;
let gen: WorkerGenerator;

const prompts = ['12+34=', '7-9=', '55+5=', '3+3='].map((t) =>
  Int32Array.from(tokenizer.encode(t)),
);
const keys = [10, 11, 12, 13];
const options = { num_generations_per_prompt: 4, max_new_tokens: 5, temperature: 1, seed: 3 };

const plain = (s: GeneratedSample[]) =>
  s.map((x) => ({
    p: x.promptIndex,
    g: x.generationIndex,
    tokens: Array.from(x.completionTokens),
    text: x.completionText,
    finish: x.finishReason,
  }));

beforeAll(async () => {
  await useBackend('wasm');
  const hf = {
    ...presetHfConfig('llama', 'tiny', tokenizer.vocabSize),
    hidden_size: 32,
    intermediate_size: 64,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    num_hidden_layers: 1,
    max_position_embeddings: 32,
    bos_token_id: tokenizer.bosTokenId,
    eos_token_id: tokenizer.eosTokenId,
    pad_token_id: tokenizer.padTokenId,
  };
  model = CausalLM.create(fromHfConfig(hf), { seed: 4 });
  gen = await WorkerGenerator.create({ model, tokenizerSource: 'builtin' });
});

afterAll(async () => {
  await gen?.dispose();
  model?.dispose();
});

describe('WorkerGenerator', () => {
  it('generates on its thread exactly what in-process generate gives for the same weights and seed', async () => {
    const local = await generate(model, tokenizer, prompts, options, { requestKeys: keys });
    const remote = await gen.generate(prompts, options, { requestKeys: keys });
    expect(plain(remote)).toEqual(plain(local));
    for (let i = 0; i < local.length; i++)
      for (let t = 0; t < local[i]!.genLogprobs.length; t++)
        expect(remote[i]!.genLogprobs[t]).toBeCloseTo(local[i]!.genLogprobs[t]!, 5);
    expect(gen.counters).toMatchObject({ hits: 0, misses: 1 });
  });

  it('generates with the weights published last, and a prefetched batch with the weights of when it was drawn', async () => {
    const before = await generate(model, tokenizer, prompts, { ...options, seed: 9 });
    // a prefetch needs the options of an earlier request (the template): the test above made one
    gen.prefetch(prompts, [0, 1, 2, 3]);
    // change the policy: scale the output head, so every sampling distribution moves
    const head = [...model.trainableVariables()].find(([n]) => n.includes('lm_head'))![1];
    const scaled = tf.mul(head, 8);
    const original = tf.clone(head);
    head.assign(scaled);
    scaled.dispose();
    gen.publish(model);
    const after = await generate(model, tokenizer, prompts, { ...options, seed: 9 });
    expect(plain(after)).not.toEqual(plain(before));
    // on demand (group keys unlike the prefetch's: not a hit): the new weights
    const afterKeyed = await generate(
      model,
      tokenizer,
      prompts,
      { ...options, seed: 9 },
      {
        requestKeys: keys,
      },
    );
    const onDemand = await gen.generate(prompts, { ...options, seed: 9 }, { requestKeys: keys });
    expect(plain(onDemand)).toEqual(plain(afterKeyed));
    expect(gen.counters).toMatchObject({ hits: 0, misses: 2 });
    // prefetched before publish: the old weights, the prefetch's own seed, one version stale
    const prefetchedSamples = await gen.generate(prompts, { ...options, seed: 12345 });
    expect(gen.counters).toMatchObject({ hits: 1, staleness: 1 });
    head.assign(original);
    original.dispose();
    gen.publish(model);
    const oldWeights = await generate(model, tokenizer, prompts, {
      ...options,
      seed: (options.seed * 48_271 + 1_000_033) % 2_147_483_647,
    });
    expect(plain(prefetchedSamples)).toEqual(plain(oldWeights));
  });

  it('drops the oldest waiting prefetch beyond maxPrefetched and leaks no tensor on either thread', async () => {
    const mainBefore = tf.memory().numTensors;
    const workerBefore = await gen.workerTensors();
    gen.maxPrefetched = 1;
    const dropped = gen.counters.dropped;
    for (let i = 0; i < 4; i++) gen.prefetch([prompts[i]!], [i]);
    for (let round = 0; round < 3; round++) {
      gen.publish(model);
      await gen.generate(prompts, { ...options, seed: round });
    }
    expect(gen.counters.dropped - dropped).toBeGreaterThanOrEqual(2);
    expect(await gen.workerTensors()).toBe(workerBefore);
    expect(tf.memory().numTensors).toBe(mainBefore);
    gen.maxPrefetched = 4;
  });

  it('a finished prefetch nobody asks for gives its place to a newer one', async () => {
    gen.maxPrefetched = 2;
    // greedy requests (as validation makes) become the template: two batches drawn greedily
    await gen.generate(prompts, { ...options, temperature: 0 });
    gen.prefetch([prompts[0]!], [0]);
    gen.prefetch([prompts[1]!], [1]);
    // let both finish: the old rule dropped only batches not yet started, so these held both places
    const worker = gen as unknown as { busy: unknown; queue: unknown[] };
    while (worker.busy !== null || worker.queue.length > 0)
      await new Promise((r) => setTimeout(r, 5));
    // the trainer's sampled requests again: their batch drawn ahead is served
    await gen.generate(prompts, options);
    const before = { ...gen.counters };
    gen.prefetch([prompts[2]!], [2]);
    gen.prefetch([prompts[3]!], [3]);
    expect(gen.counters.dropped - before.dropped).toBe(2);
    await gen.generate([prompts[2]!], options, { requestKeys: [2] });
    await gen.generate([prompts[3]!], options, { requestKeys: [3] });
    expect(gen.counters.hits - before.hits).toBe(2);
    expect(gen.counters.misses - before.misses).toBe(0);
    gen.maxPrefetched = 4;
  });
});
