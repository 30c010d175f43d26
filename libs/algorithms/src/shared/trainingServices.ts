import { requireService, type StageContext, type Tokenizer } from '@rxrl/core/base';
import type { CausalLM } from '@rxrl/model';
import type { NamedOptimizer } from '@rxrl/optimizer';
import type { PendingUpdate } from './accumulatedStep';

/**
 * What the training stages (`loss.*`, `policy.reference_logprobs`, `optimizer.step`)
 * take from their graph's context: the policy and its optimizer, the step's
 * pending gradients (shared by the loss and optimizer nodes of one graph), the
 * tokenizer (its pad id) and, for preference objectives, the frozen reference.
 */
export interface TrainingServices {
  policy: CausalLM;
  optimizer: NamedOptimizer;
  /** gradients a loss node adds and the optimizer node applies */
  update: PendingUpdate;
  tokenizer: Tokenizer;
  /** the frozen reference policy, or null (reference-free objectives) */
  reference: CausalLM | null;
  /** metrics of the previous training step (a custom objective may read them); {} before the first */
  previousMetrics: () => Record<string, number>;
}

/** The training services of `context`, or an error naming the stage and the missing one. */
export function trainingServices(context: StageContext, stage: string): TrainingServices {
  const tokenizer = requireService<Tokenizer>(context, 'tokenizer', stage);
  return {
    policy: requireService<CausalLM>(context, 'policy', stage),
    optimizer: requireService<NamedOptimizer>(context, 'optimizer', stage),
    update: requireService<PendingUpdate>(context, 'update', stage),
    tokenizer,
    reference: (context.services['reference'] as CausalLM | null | undefined) ?? null,
    previousMetrics:
      (context.services['previous_metrics'] as (() => Record<string, number>) | undefined) ??
      (() => ({})),
  };
}

/** The token id that pads a batch: the tokenizer's pad token, else its EOS, else 0. */
export function padTokenOf(tokenizer: Tokenizer): number {
  return tokenizer.padTokenId ?? tokenizer.eosTokenId ?? 0;
}
