// Property-based: any override strings on the shipped recipes either validate or fail with a
// configuration error (exit 2 in the CLI) that names a key path; never another exception.
import * as path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyOverrides, loadRecipe, ConfigValidationError } from '@rxrl/config';
import { RxrlConfigError, RxrlUsageError } from '@rxrl/core/base';
import { dpoSections, grpoSections, sftSections } from '@rxrl/algorithms';
import { root } from './tinySft';

const recipes = [
  ['configs/sft_arithmetic.yaml', sftSections],
  ['configs/dpo_arithmetic.yaml', dpoSections],
  ['configs/grpo_arithmetic.yaml', grpoSections],
] as const;

// real key paths (and near misses) so many overrides reach the section schemas
const keys = [
  'seed',
  'policy.train_global_batch_size',
  'policy.train_micro_batch_size',
  'policy.max_grad_norm',
  'policy.optimizer.kwargs.lr',
  'policy.optimizer.kwargs.betas',
  'policy.optimizer.name',
  'policy.on_nonfinite',
  'policy.scheduler',
  'policy.init',
  'grpo.num_generations_per_prompt',
  'grpo.num_prompts_per_step',
  'sft.max_num_steps',
  'dpo.reference_policy_kl_penalty',
  'loss_fn.ratio_clip_min',
  'loss_fn.ratio_clip_c',
  'loss_fn.use_cispo',
  'data.skip_invalid',
  'data.val_fraction',
  'checkpointing.save_period',
  'checkpointing.keep_top_k',
  'logger.log_dir',
  'polciy.seed',
  'policy',
  'a.b.c',
];
const value = fc.oneof(
  fc.string(),
  fc.integer().map(String),
  fc.double().map(String),
  fc.constantFrom(
    'true',
    'false',
    'null',
    '[]',
    '{}',
    '[1, 2]',
    '{a: 1}',
    '-1',
    '0',
    '1e-3',
    'NaN',
    '.inf',
    '{',
    ']',
    "'x",
    '"',
  ),
);
const override = fc.oneof(
  fc.tuple(fc.constantFrom(...keys), value).map(([k, v]) => `${k}=${v}`),
  fc.string(), // anything at all, with or without '='
);

describe('config loader properties on the shipped recipes', () => {
  for (const [recipe, sections] of recipes) {
    it(`${recipe}: random overrides validate or raise a configuration error naming a key`, () => {
      const base = loadRecipe(path.join(root, recipe), { displayRoot: root });
      fc.assert(
        fc.property(fc.array(override, { maxLength: 4 }), (overrides) => {
          try {
            sections.validate(applyOverrides(base, overrides));
          } catch (e) {
            expect(e instanceof RxrlConfigError || e instanceof RxrlUsageError, String(e)).toBe(
              true,
            );
            if (e instanceof ConfigValidationError) {
              expect(e.issues.length).toBeGreaterThan(0);
              expect((e as Error).message).not.toContain('[object Object]');
            }
          }
        }),
        { numRuns: 300 },
      );
    });
  }
});
