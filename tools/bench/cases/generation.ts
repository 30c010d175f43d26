import * as tf from '@tensorflow/tfjs-core';
import { Rng, type Tokenizer } from '@rxrl/core/base';
import { CausalLM, generateStep, prefill, presetConfig, type Preset } from '@rxrl/model';
import { filterTokens, generate } from '@rxrl/rollout';
import { timeIt, type BenchCase, type BenchRecord } from '../benchCase';

const VOCAB = 512;

/** Ids only: the bench never decodes text that matters (no stop strings). */
const idTokenizer: Tokenizer = {
  vocabSize: VOCAB,
  bosTokenId: null,
  eosTokenId: null,
  padTokenId: 0,
  encode: () => [],
  decode: (ids) => `${ids.length} tokens`,
  applyChatTemplate: () => '',
};

function prompts(batch: number, len: number, rng: Rng): number[][] {
  return Array.from({ length: batch }, () => Array.from({ length: len }, () => 1 + rng.int(VOCAB - 1)));
}

/**
 * `rollout.generate` throughput with the KV cache (batch 1 and 32, tiny and
 * small presets), decode cost per token against context length (flat when the
 * cache works: no recompute of the prefix), and the host-side sampler on a
 * 151,936-token row (Qwen's vocabulary) against a tensor top-k.
 */
export const generation: BenchCase = {
  name: 'generation',
  async run(ctx) {
    const backend = ctx.backend;
    const records: BenchRecord[] = [];
    const rng = new Rng(0);
    const newTokens = ctx.quick ? 16 : 64;
    for (const preset of ['tiny', 'small'] as Preset[]) {
      const model = CausalLM.create(presetConfig('llama', preset, VOCAB), { seed: 0 });
      try {
        for (const batch of [1, 32]) {
          const ps = prompts(batch, 16, rng);
          const opts = { max_new_tokens: newTokens, ignore_eos: true, generation_batch_size: batch, top_p: 0.95 };
          const ms = await timeIt(() => generate(model, idTokenizer, ps, opts).then(() => undefined), ctx.quick ? 1 : 3, 1);
          records.push({ name: 'generate', backend, preset, batch, seqLen: 16 + newTokens, value: (batch * newTokens) / (ms / 1000), unit: 'tokens/s', notes: `prompt 16, ${newTokens} new tokens, vocab ${VOCAB}` });
        }
        for (const context of ctx.quick ? [32, 256] : [64, 256, 512, 1024]) {
          const ids = tf.tensor2d(prompts(1, context, rng), [1, context], 'int32');
          const { cache, logits } = prefill(model, ids);
          ids.dispose();
          logits.dispose();
          const steps = ctx.quick ? 4 : 8;
          const ms = await timeIt(
            async () => {
              const out = generateStep(model, cache, [1]);
              await out.data();
              out.dispose();
            },
            steps,
            1,
          );
          cache.dispose();
          records.push({ name: 'decode_step', backend, preset, batch: 1, seqLen: context, value: ms, unit: 'ms', notes: 'one cached decode step at this context length' });
          // what each token would cost without the cache: a forward pass over the whole context
          const full = tf.tensor2d(prompts(1, context, rng), [1, context], 'int32');
          const fullMs = await timeIt(
            async () => {
              const out = model.logits(full);
              await out.data();
              out.dispose();
            },
            ctx.quick ? 2 : 4,
            1,
          );
          full.dispose();
          records.push({ name: 'recompute_step', backend, preset, batch: 1, seqLen: context, value: fullMs, unit: 'ms', notes: 'uncached: full forward over the context' });
        }
      } finally {
        model.dispose();
      }
    }
    // a Qwen-size vocabulary: whole rows to the host vs top-k on the device
    const qwenVocab = CausalLM.create(presetConfig('qwen2', 'tiny', 151936), { seed: 0 });
    try {
      const ps = prompts(8, 16, rng);
      const qTok = { ...idTokenizer, vocabSize: 151936 };
      for (const deviceSampling of [false, true]) {
        const opts = { max_new_tokens: newTokens, ignore_eos: true, top_k: 50, top_p: 0.95 };
        const ms = await timeIt(() => generate(qwenVocab, qTok, ps, opts, { deviceSampling }).then(() => undefined), 1, 1);
        records.push({
          name: deviceSampling ? 'generate_topk_device' : 'generate_topk_host',
          backend,
          preset: 'tiny',
          batch: 8,
          seqLen: 16 + newTokens,
          value: (8 * newTokens) / (ms / 1000),
          unit: 'tokens/s',
          notes: `vocab 151936, top_k 50 + top_p 0.95, ${deviceSampling ? 'top-k on the device' : 'whole rows to the host'}`,
        });
      }
    } finally {
      qwenVocab.dispose();
    }
    const big = new Float32Array(151936);
    rng.fillNormal(big, 0, 3);
    const params = { temperature: 1, top_k: 50, top_p: 0.95, min_p: 0 };
    const jsMs = await timeIt(() => void filterTokens(big, params), ctx.quick ? 5 : 20);
    records.push({ name: 'sample_row_js', backend, value: jsMs, unit: 'ms', notes: 'host filterTokens, V=151936, top_k 50 + top_p 0.95' });
    const row = tf.tensor2d(big, [1, big.length]);
    const tfMs = await timeIt(
      async () => {
        const { values, indices } = tf.topk(row, 50);
        await Promise.all([values.data(), indices.data()]);
        tf.dispose([values, indices]);
      },
      ctx.quick ? 5 : 20,
    );
    row.dispose();
    records.push({ name: 'sample_row_tf_topk', backend, value: tfMs, unit: 'ms', notes: 'tf.topk(50) of one V=151936 row + download' });
    return records;
  },
};
