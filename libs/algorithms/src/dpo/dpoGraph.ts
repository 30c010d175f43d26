import { objectiveNeedsReference } from '@rxrl/loss';
import type { GraphSpec } from '@rxrl/pipeline';
import { withKeyDefaults, type KeyDefaults } from '../shared/stepGraph';
import { optimizerStepDefaults } from '../sft/sftGraph';
import { dpoLossOptionsOf } from './dpoOptions';
import type { DpoConfig } from './runDpo';

/**
 * The resolved per-step graph of a DPO recipe: `spec` (default its `graph:`, else
 * [`policy.reference_logprobs` when the objective reads π_ref] → `loss.dpo` with the
 * `dpo` section's loss keys, or `loss.<dpo.objective.name>` with the objective's
 * options → `optimizer.step`), each node's options over what the recipe's keys give
 * it (`policy.train_micro_batch_size` for the reference and loss nodes, the `policy`
 * optimizer keys for the step). The one source of those options: the run builds
 * its optimizer from the step node's and loads π_ref only for a reference node.
 */
export function dpoGraphSpec(config: DpoConfig, spec: GraphSpec | null = config.graph): GraphSpec {
  const micro = { micro_batch_size: config.policy.train_micro_batch_size };
  const objective = config.dpo.objective;
  const defaults: KeyDefaults = {
    'policy.reference_logprobs': micro,
    'loss.dpo': { ...dpoLossOptionsOf(config.dpo), ...micro },
    'loss.orpo': micro,
    'loss.cpo': micro,
    'loss.kto': micro,
    ...optimizerStepDefaults(config.policy),
  };
  if (objective !== null) {
    const { name, ...options } = objective;
    defaults[`loss.${name}`] = { ...options, ...micro };
  }
  const needsReference =
    objective === null ? !config.dpo.reference_free : objectiveNeedsReference(objective);
  return withKeyDefaults(
    spec ?? [
      ...(needsReference ? [{ stage: 'policy.reference_logprobs' }] : []),
      { stage: objective === null ? 'loss.dpo' : `loss.${objective.name}` },
      { stage: 'optimizer.step' },
    ],
    defaults,
  );
}
