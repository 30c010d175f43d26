import { beforeAll, expect, it } from 'vitest';
import { useBackend } from '@rxrl/core';
import { CausalLM, presetConfig } from '@rxrl/model';
import { generate } from './generate';
import { CharTokenizer } from './testing/charTokenizer';

beforeAll(async () => {
  await useBackend('wasm');
});
it('runs', async () => {
  const tok = new CharTokenizer();
  const model = CausalLM.create(presetConfig('qwen3', 'tiny', tok.vocabSize), { seed: 0 });
  const t0 = performance.now();
  const s = await generate(model, tok, [tok.encode('ab'), tok.encode('hello world')], { num_generations_per_prompt: 2, max_new_tokens: 16, top_k: 5 });
  console.log(performance.now() - t0, s.map((x) => [x.completionText, x.finishReason, x.completionTokens.length]));
  expect(s.length).toBe(4);
});
