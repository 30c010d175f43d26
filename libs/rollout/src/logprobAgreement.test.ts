import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@rxrl/core';
import { CausalLM, presetConfig } from '@rxrl/model';
import { generate, type GeneratedSample } from './generate';
import { tokenMultProbError } from './tokenMultProbError';
import { CharTokenizer } from './testing/charTokenizer';

const tok = new CharTokenizer();
let model: CausalLM;

beforeAll(async () => {
  await useBackend('wasm');
  model = CausalLM.create(presetConfig('qwen3', 'tiny', tok.vocabSize), { seed: 0 });
});

const PROMPTS = [tok.encode('hello world'), tok.encode('ab'), tok.encode('the quick brown fox')];

/** Left-padded `[B, L-1]` inputs, targets and mask of prompt + completion, and where each completion token's log-prob sits. */
function trainingBatch(samples: GeneratedSample[]) {
  const seqs = samples.map((s) => [...PROMPTS[s.promptIndex]!, ...s.completionTokens]);
  const len = Math.max(...seqs.map((s) => s.length)) - 1;
  const ids = new Int32Array(samples.length * len);
  const targets = new Int32Array(samples.length * len);
  const mask = new Int32Array(samples.length * len);
  const positions: number[] = [];
  seqs.forEach((seq, b) => {
    const off = len - (seq.length - 1);
    for (let t = 0; t < seq.length - 1; t++) {
      ids[b * len + off + t] = seq[t]!;
      targets[b * len + off + t] = seq[t + 1]!;
      mask[b * len + off + t] = 1;
    }
    const p = PROMPTS[samples[b]!.promptIndex]!.length;
    for (let j = 0; j < samples[b]!.completionTokens.length; j++)
      positions.push(b * len + off + p - 1 + j);
  });
  return { ids, targets, mask, len, positions };
}

/** Training-time log-probs of the completion tokens, flat in sample order, via `model.tokenLogProbs` (T = 1). */
function trainLogprobs(policy: CausalLM, samples: GeneratedSample[]): Float32Array {
  const { ids, targets, mask, len, positions } = trainingBatch(samples);
  const b = samples.length;
  const lp = tf.tidy(() =>
    policy.tokenLogProbs(
      tf.tensor2d(ids, [b, len], 'int32'),
      tf.tensor2d(mask, [b, len], 'int32'),
      tf.tensor2d(targets, [b, len], 'int32'),
    ),
  );
  const all = lp.dataSync() as Float32Array;
  lp.dispose();
  return Float32Array.from(positions, (i) => all[i]!);
}

/** The same at temperature T: log softmax(logits / T), as NeMo RL's trainer scales them. */
function trainLogprobsAt(
  policy: CausalLM,
  samples: GeneratedSample[],
  temperature: number,
): Float32Array {
  const { ids, targets, mask, len, positions } = trainingBatch(samples);
  const b = samples.length;
  const v = policy.config.vocabSize;
  const lsm = tf.tidy(() =>
    tf.logSoftmax(
      tf.div(
        policy.logits(tf.tensor2d(ids, [b, len], 'int32'), tf.tensor2d(mask, [b, len], 'int32')),
        temperature,
      ),
    ),
  );
  const all = lsm.dataSync() as Float32Array;
  lsm.dispose();
  return Float32Array.from(positions, (i) => all[i * v + targets[i]!]!);
}

const flatGen = (samples: GeneratedSample[]) =>
  Float32Array.from(samples.flatMap((s) => [...s.genLogprobs]));
const maxAbsDiff = (a: Float32Array, b: Float32Array) =>
  a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);

describe('gen_logprobs agree with training-time log-probs of the same policy', () => {
  it('T = 1 with top-k / top-p truncation: token_mult_prob_error is 1 within float tolerance', async () => {
    const samples = await generate(model, tok, PROMPTS, {
      num_generations_per_prompt: 2,
      max_new_tokens: 12,
      top_k: 20,
      top_p: 0.9,
      seed: 3,
    });
    const gen = flatGen(samples);
    const train = trainLogprobs(model, samples);
    expect(gen.length).toBeGreaterThan(20);
    expect(maxAbsDiff(gen, train)).toBeLessThan(1e-4);
    expect(Math.abs(tokenMultProbError(gen, train) - 1)).toBeLessThan(1e-4);
  });

  it('T = 0.7: gen_logprobs are the temperature-scaled policy log-probs', async () => {
    const samples = await generate(model, tok, PROMPTS, {
      num_generations_per_prompt: 2,
      max_new_tokens: 10,
      temperature: 0.7,
      min_p: 0.05,
      seed: 9,
    });
    const gen = flatGen(samples);
    expect(maxAbsDiff(gen, trainLogprobsAt(model, samples, 0.7))).toBeLessThan(1e-4);
    // unscaled training log-probs would not agree
    expect(maxAbsDiff(gen, trainLogprobs(model, samples))).toBeGreaterThan(1e-2);
  });

  it('a changed policy moves token_mult_prob_error away from 1', async () => {
    const samples = await generate(model, tok, PROMPTS, {
      num_generations_per_prompt: 2,
      max_new_tokens: 10,
      seed: 5,
    });
    const other = CausalLM.create(presetConfig('qwen3', 'tiny', tok.vocabSize), { seed: 1 });
    try {
      expect(tokenMultProbError(flatGen(samples), trainLogprobs(other, samples))).toBeGreaterThan(
        1.01,
      );
    } finally {
      other.dispose();
    }
  });
});
