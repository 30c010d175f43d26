/**
 * What a logged metric means, for the report's glossary. Patterns are tried in order;
 * names that differ only in where they are averaged (`train/reward` and
 * `train/reward/mean`) say so, since they can disagree within one step.
 */
export const METRIC_GLOSSARY: [pattern: RegExp, meaning: string][] = [
  [/^train\/loss$/, 'the training loss of the step (mean over its micro-batches)'],
  [/^validation\/loss$/, 'the loss on the held-out set'],
  [
    /^train\/reward$/,
    'GRPO: mean reward of every completion generated this step, across all dynamic-sampling rounds, kept or not',
  ],
  [
    /^train\/reward\/mean$/,
    "GRPO: mean reward the reward stage reports for the last batch it scored this step (with dynamic sampling, only the last refill round's), so it can differ from train/reward",
  ],
  [
    /^train\/reward_(std|min|max)$/,
    'GRPO: standard deviation, lowest and highest reward of this step’s completions (next to train/reward, its mean); min = max means the reward no longer separates them',
  ],
  [
    /^train\/(actor_loss|kl_loss|nll_loss|entropy_loss)$/,
    'GRPO: the loss broken into its terms (train/loss = actor_loss + kl_loss + nll_loss + entropy_loss): the clipped policy term, β·KL, the positive-example NLL, −entropy_coef·entropy',
  ],
  [
    /^train\/schedule\//,
    'the value a scheduled or controlled coefficient (recipe `schedules:`, by its key path) had at this step',
  ],
  [
    /^train\/grad_norm\/.+/,
    'gradient norm of one layer group before clipping (logger.grad_norm_per_layer_every); the groups combine to train/grad_norm',
  ],
  [
    /^train\/entropy$/,
    'GRPO with loss_fn.entropy_coef: mean entropy (nats) of the policy’s next-token distribution over the valid completion tokens',
  ],
  [/^train\/reward\/nulls$/, 'completions the reward function could not score (no reward)'],
  [/^train\/reward\/(timeouts|errors)$/, 'reward calls that timed out or threw, this step'],
  [
    /^train\/accuracy$/,
    'GRPO: fraction of this step’s completions the verifier marks correct (sampled, at the rollout temperature); DPO: fraction of pairs whose chosen answer the policy prefers',
  ],
  [
    /^validation\/accuracy$/,
    'held-out accuracy: GRPO and SFT, exact-match answers on the held-out problems (greedy at temperature 0); DPO, fraction of held-out pairs ranked right',
  ],
  [/^(train|validation)\/reward_margin$/, 'DPO: mean implicit reward of chosen minus rejected'],
  [/^train\/grad_norm$/, 'global gradient norm before clipping'],
  [/^train\/lr$/, 'learning rate used for the step'],
  [/^(train|validation)\/(kl|kl_penalty)$/, 'KL divergence estimate to the reference policy'],
  [
    /^train\/probs_ratio$/,
    'mean ratio of the trained policy’s token probabilities to the generating policy’s',
  ],
  [
    /^train\/token_mult_prob_error$/,
    'how far the trainer’s log-probs of the sampled tokens are from the sampler’s (1 is exact)',
  ],
  [
    /^train\/dynamic_sampling_kept_fraction$/,
    'fraction of generated groups kept: the others were all right or all wrong and carry no gradient',
  ],
  [/^train\/dynamic_sampling_num_gen_batches$/, 'prompt batches generated to fill the step'],
  [/^(train|validation)\/mean_completion_length$/, 'mean completion length in tokens'],
  [/^validation\/num_samples$/, 'completions scored in the held-out evaluation'],
  [/^performance\/tokens_per_sec$/, 'tokens (prompt and completion) processed per second'],
  [/^timing\//, 'seconds spent in this phase of the step'],
];

/** The meaning of `name`, or null when the glossary has none. */
export function explainMetric(name: string): string | null {
  return METRIC_GLOSSARY.find(([p]) => p.test(name))?.[1] ?? null;
}
