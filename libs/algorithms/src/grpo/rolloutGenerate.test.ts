import { lastValueFrom, of } from 'rxjs';
import type { RecordBatch } from 'apache-arrow';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@rxrl/core';
import { COLUMNS, withBatchMeta } from '@rxrl/core/base';
import { generateOptionsSchema, rolloutGenerateStage } from '@rxrl/rollout';
import { loadPolicy } from '../shared/loadPolicy';
import { grpoSections } from './grpoConfig';
import { loadPromptSets, promptBatch } from './promptSet';
import { TINY_POLICY_INIT } from './testing/tinyPolicyInit';

beforeAll(async () => {
  await useBackend('wasm');
});

const tagged = (batch: RecordBatch, step: number, round: number) =>
  withBatchMeta(batch, { step, round });

describe('rollout.generate (training graph)', () => {
  it('draws fresh samples for each step and each refill round, the same ones for the same (step, round)', async () => {
    const config = grpoSections.validate({
      policy: { init: TINY_POLICY_INIT },
      data: { arithmetic: { max_digits: 1, operators: ['+'] }, num_train_prompts: 16 },
      grpo: { max_val_samples: 4 },
    });
    const policy = await loadPolicy(config.policy, 1);
    try {
      const prompts = await loadPromptSets(config, policy.tokenizer);
      const batch = promptBatch(prompts.train, [0, 1, 2, 3]);
      const stage = rolloutGenerateStage.create(
        generateOptionsSchema.parse({ num_generations_per_prompt: 4, max_new_tokens: 4, seed: 3 }),
        { services: { policy: policy.model, tokenizer: policy.tokenizer }, emit: () => {} },
      );
      const completions = async (step: number, round: number) => {
        const out = await lastValueFrom(of(tagged(batch, step, round)).pipe(stage));
        return out.getChild(COLUMNS.completionText)!.toArray() as string[];
      };
      const a = await completions(5, 0);
      expect(await completions(5, 0)).toEqual(a);
      // a random policy at T = 1: 16 samples of 4 tokens agree only by chance
      const same = (x: string[], y: string[]) => x.filter((c, i) => c === y[i]).length;
      expect(same(a, await completions(5, 1))).toBeLessThan(4);
      expect(same(a, await completions(6, 0))).toBeLessThan(4);
    } finally {
      policy.model.dispose();
    }
  });
});
