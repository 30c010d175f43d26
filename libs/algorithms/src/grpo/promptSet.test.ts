import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BuiltinTokenizer } from '@rxrl/data';
import { grpoSections } from './grpoConfig';
import { loadPromptSets } from './promptSet';

// GRPO's data section takes the dataset spec SFT and DPO recipes take:
// `builtin:arithmetic` or a prompt file in data.dataset_name.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-prompt-set-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const tok = new BuiltinTokenizer();
const config = (data: Record<string, unknown>) =>
  grpoSections.validate({
    policy: { init: { preset: 'tiny' }, tokenizer: { name: 'builtin' } },
    grpo: { max_val_samples: 2 },
    data: { num_train_prompts: 8, ...data },
  });

describe('GRPO prompt sets from one dataset spec', () => {
  it('builtin:arithmetic is the built-in task (as the older name arithmetic)', async () => {
    const a = await loadPromptSets(config({ dataset_name: 'builtin:arithmetic' }), tok);
    const b = await loadPromptSets(config({ dataset_name: 'arithmetic' }), tok);
    expect(a.train.text).toHaveLength(8);
    expect(a).toEqual(b);
  });

  it('a file in dataset_name reads like train_data_path; both at once, or another builtin:, is refused', async () => {
    const file = path.join(tmp, 'prompts.jsonl');
    const rows = Array.from({ length: 5 }, (_, i) => ({ prompt: `${i}+1=`, answer: `${i + 1}` }));
    fs.writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const named = await loadPromptSets(config({ dataset_name: file }), tok);
    const keyed = await loadPromptSets(config({ dataset_name: null, train_data_path: file }), tok);
    expect(named).toEqual(keyed);
    // the last max_val_samples rows are held out
    expect(named.train.answer).toEqual(['1', '2', '3']);
    expect(named.validation.answer).toEqual(['4', '5']);
    expect(() => config({ dataset_name: file, train_data_path: file })).toThrow(
      /data\.train_data_path: the training file is data\.dataset_name/,
    );
    expect(() => config({ dataset_name: 'builtin:gsm8k' })).toThrow(
      /data\.dataset_name: not a built-in dataset; expected 'builtin:arithmetic' or a file path/,
    );
  });
});
