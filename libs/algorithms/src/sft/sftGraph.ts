import type { GraphSpec } from '@rxrl/pipeline';
import type { PolicyOptions } from '../shared/policyOptions';
import {
  tokenizeKeys,
  withDataTokenize,
  withKeyDefaults,
  type KeyDefaults,
} from '../shared/stepGraph';
import type { SftConfig } from './runSft';

/** What the `policy` keys give the optimizer step (a graph node's own options win). */
export function optimizerStepDefaults(policy: PolicyOptions): KeyDefaults {
  return {
    'optimizer.step': {
      optimizer: policy.optimizer,
      scheduler: policy.scheduler,
      max_grad_norm: policy.max_grad_norm,
    },
  };
}

/**
 * The resolved per-step graph of an SFT recipe, from raw rows: `spec` (default its
 * `graph:`, else `loss.<sft.loss_type>` → `optimizer.step`) after `data.tokenize`
 * (first unless `spec` places it), each node's options over what the recipe's keys
 * give it (the `data` format keys and `policy.max_total_sequence_length` for
 * `data.tokenize`; `policy.train_micro_batch_size` for the loss node;
 * `policy.optimizer`, `policy.scheduler`, `policy.max_grad_norm` for the step).
 * The one source of those options: the run builds its optimizer from the step node's.
 */
export function sftGraphSpec(config: SftConfig, spec: GraphSpec | null = config.graph): GraphSpec {
  const micro = { micro_batch_size: config.policy.train_micro_batch_size };
  return withKeyDefaults(
    withDataTokenize(
      spec ?? [{ stage: `loss.${config.sft.loss_type}` }, { stage: 'optimizer.step' }],
    ),
    {
      'data.tokenize': {
        rows: 'sft',
        ...tokenizeKeys(config.data, config.policy.max_total_sequence_length),
      },
      'loss.nll': micro,
      'loss.dft': micro,
      ...optimizerStepDefaults(config.policy),
    },
  );
}
