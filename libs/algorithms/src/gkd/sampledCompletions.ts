import type { Tokenizer } from '@rxrl/core/base';
import type { CausalLM } from '@rxrl/model';
import { generate } from '@rxrl/rollout';
import type { LmSequence } from '../shared/lmBatch';

/** A prompt and the completion a model sampled for it, laid out for next-token training. */
export interface SampledSequence extends LmSequence {
  tokens: Int32Array;
  /** 0 on the prompt, 1 on the sampled completion (its stop token included) */
  mask: Uint8Array;
  weight: number;
}

/** Options of {@link sampledCompletions}. */
export interface SampledCompletionsOptions {
  temperature: number;
  maxNewTokens: number;
  /** longest prompt + completion; the completion budget shrinks to fit */
  maxLength: number;
  seed: number;
  batchSize: number;
}

/**
 * Replace each example's completion with one `model` samples for its prompt (GKD's
 * on-policy data, or the teacher's for `seq_kd`): plain temperature sampling, stopping at
 * the tokenizer's EOS, seeded so that a step's samples are the same after a resume.
 */
export async function sampledCompletions(
  model: CausalLM,
  tokenizer: Tokenizer,
  prompts: readonly Int32Array[],
  o: SampledCompletionsOptions,
): Promise<SampledSequence[]> {
  const longest = Math.max(...prompts.map((p) => p.length));
  const budget = Math.max(1, Math.min(o.maxNewTokens, o.maxLength - longest));
  const samples = await generate(
    model,
    tokenizer,
    prompts,
    {
      temperature: o.temperature,
      max_new_tokens: budget,
      seed: o.seed,
      generation_batch_size: o.batchSize,
    },
    { compact: true },
  );
  const out = new Array<SampledSequence>(prompts.length);
  for (const s of samples) {
    const prompt = prompts[s.promptIndex]!;
    const n = Math.min(s.completionTokens.length, o.maxLength - prompt.length);
    const tokens = new Int32Array(prompt.length + n);
    tokens.set(prompt);
    tokens.set(s.completionTokens.subarray(0, n), prompt.length);
    const mask = new Uint8Array(tokens.length);
    mask.fill(1, prompt.length);
    out[s.promptIndex] = { tokens, mask, weight: 1 };
  }
  return out;
}
