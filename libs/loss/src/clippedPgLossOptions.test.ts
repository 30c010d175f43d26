// Every combination clippedPgLossOptionsSchema rejects, with the key it names,
// and the nearest combination it accepts.
import { describe, expect, it } from 'vitest';
import { clippedPgLossOptionsSchema, type ClippedPgLossOptionsInput } from './clippedPgLoss';

const issuePaths = (o: ClippedPgLossOptionsInput) => {
  const r = clippedPgLossOptionsSchema.safeParse(o);
  return r.success ? [] : r.error.issues.map((i) => i.path.join('.'));
};

describe('clippedPgLossOptionsSchema', () => {
  const rejected: Array<[string, ClippedPgLossOptionsInput, string[]]> = [
    [
      'GSPO with a token-level aggregation',
      { sequence_level_importance_ratios: true, loss_aggregation: 'dapo' },
      ['sequence_level_importance_ratios'],
    ],
    [
      'GSPO with token_level_loss',
      { sequence_level_importance_ratios: true },
      ['sequence_level_importance_ratios'],
    ],
    [
      'force_on_policy_ratio with disable_ppo_ratio',
      { force_on_policy_ratio: true, disable_ppo_ratio: true },
      ['force_on_policy_ratio'],
    ],
    ['CISPO without the ratio', { use_cispo: true, disable_ppo_ratio: true }, ['use_cispo']],
    ['CISPO with ratio 1', { use_cispo: true, force_on_policy_ratio: true }, ['use_cispo']],
    [
      'CISPO with sequence ratios',
      { use_cispo: true, sequence_level_importance_ratios: true, token_level_loss: false },
      ['use_cispo', 'use_cispo'],
    ],
    ['CISPO with dual clip', { use_cispo: true, ratio_clip_c: 3 }, ['ratio_clip_c']],
    [
      'CISPO with a sequence-level loss',
      { use_cispo: true, token_level_loss: false },
      ['use_cispo'],
    ],
    ['SAPO without the ratio', { use_sapo: true, disable_ppo_ratio: true }, ['use_sapo']],
    ['SAPO with CISPO', { use_sapo: true, use_cispo: true }, ['use_sapo']],
    ['SAPO with dual clip', { use_sapo: true, ratio_clip_c: 3 }, ['ratio_clip_c']],
    ['delta with SAPO', { delta: 1.5, use_sapo: true }, ['delta']],
    ['delta with CISPO', { delta: 1.5, use_cispo: true }, ['delta']],
    ['delta with REINFORCE', { delta: 1.5, disable_ppo_ratio: true }, ['delta']],
    [
      'a TIS ratio without a type',
      { use_importance_sampling_correction: true, truncated_importance_sampling_ratio: 2 },
      ['truncated_importance_sampling_type'],
    ],
    [
      'a TIS type without a ratio',
      { use_importance_sampling_correction: true, truncated_importance_sampling_type: 'tis' },
      ['truncated_importance_sampling_ratio'],
    ],
    [
      'TIS without importance sampling',
      { truncated_importance_sampling_type: 'tis', truncated_importance_sampling_ratio: 2 },
      ['truncated_importance_sampling_type'],
    ],
    [
      'icepop without a lower bound',
      {
        use_importance_sampling_correction: true,
        truncated_importance_sampling_type: 'icepop',
        truncated_importance_sampling_ratio: 2,
      },
      ['truncated_importance_sampling_ratio_min'],
    ],
    [
      'seq-mask-tis without a lower bound',
      {
        use_importance_sampling_correction: true,
        truncated_importance_sampling_type: 'seq-mask-tis',
        truncated_importance_sampling_ratio: 2,
      },
      ['truncated_importance_sampling_ratio_min'],
    ],
    [
      'seq-mask-tis with sequence ratios',
      {
        use_importance_sampling_correction: true,
        truncated_importance_sampling_type: 'seq-mask-tis',
        truncated_importance_sampling_ratio: 2,
        truncated_importance_sampling_ratio_min: 0.5,
        sequence_level_importance_ratios: true,
        token_level_loss: false,
      },
      ['truncated_importance_sampling_type'],
    ],
    ['dr_grpo without its length', { loss_aggregation: 'dr_grpo' }, ['max_completion_length']],
  ];
  for (const [what, o, paths] of rejected) {
    it(`rejects ${what}, naming ${paths.join(', ')}`, () => {
      expect(issuePaths(o)).toEqual(paths);
    });
  }

  const accepted: Array<[string, ClippedPgLossOptionsInput]> = [
    [
      'GSPO with loss_aggregation grpo',
      { sequence_level_importance_ratios: true, loss_aggregation: 'grpo' },
    ],
    [
      'GSPO with token_level_loss false',
      { sequence_level_importance_ratios: true, token_level_loss: false },
    ],
    ['CISPO alone', { use_cispo: true }],
    ['SAPO alone', { use_sapo: true }],
    ['delta with the clipped ratio', { delta: 1.5 }],
    [
      'tis without a lower bound',
      {
        use_importance_sampling_correction: true,
        truncated_importance_sampling_type: 'tis',
        truncated_importance_sampling_ratio: 2,
      },
    ],
    [
      'seq-mask-tis with token ratios',
      {
        use_importance_sampling_correction: true,
        truncated_importance_sampling_type: 'seq-mask-tis',
        truncated_importance_sampling_ratio: 2,
        truncated_importance_sampling_ratio_min: 0.5,
      },
    ],
    ['dr_grpo with its length', { loss_aggregation: 'dr_grpo', max_completion_length: 8 }],
  ];
  for (const [what, o] of accepted) {
    it(`accepts ${what}`, () => {
      expect(issuePaths(o)).toEqual([]);
    });
  }
});
