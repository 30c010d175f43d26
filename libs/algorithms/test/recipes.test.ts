// Every shipped recipe must validate against its algorithm's sections — the
// same check `rxrl sft|dpo|grpo|gkd` runs before any work — so a recipe for a model
// users download themselves (and that CI cannot run) still cannot rot.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRecipe } from '@rxrl/config';
import { dpoSections, gkdSections, grpoSections, sftSections } from '../src/index';

const configs = fileURLToPath(new URL('../../../configs/', import.meta.url));
const sectionsFor = {
  sft: sftSections,
  dpo: dpoSections,
  grpo: grpoSections,
  gkd: gkdSections,
} as const;
const recipes = readdirSync(configs).filter((f) => /^(sft|dpo|grpo|gkd)_.*\.yaml$/.test(f));

describe('shipped recipes', () => {
  it('cover every algorithm, including a recipe for a downloaded Hugging Face model', () => {
    for (const algo of ['sft', 'dpo', 'grpo', 'gkd'])
      expect(recipes.some((r) => r.startsWith(`${algo}_`))).toBe(true);
    expect(recipes).toContain('grpo_qwen2.5-0.5b_gsm8k.yaml');
  });

  it.each(recipes)('%s validates', (file) => {
    const algo = file.split('_')[0] as keyof typeof sectionsFor;
    const config = sectionsFor[algo].validate(loadRecipe(join(configs, file)));
    expect(config).toBeDefined();
  });

  it('the GSM8K recipe reads the question/answer columns of a prompt file', () => {
    const c = grpoSections.validate(loadRecipe(join(configs, 'grpo_qwen2.5-0.5b_gsm8k.yaml')));
    expect(c.data).toMatchObject({
      dataset_name: null,
      prompt_key: 'question',
      answer_key: 'answer',
      train_data_path: 'data/gsm8k/train.jsonl',
    });
    expect(c.policy.model_name).toBe('models/Qwen2.5-0.5B-Instruct');
    expect(c.loss_fn.reference_policy_kl_penalty).toBe(0.01);
  });
});
