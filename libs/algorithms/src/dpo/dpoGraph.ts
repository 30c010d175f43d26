import { objectiveNeedsReference } from '@rxrl/loss';
import type { GraphSpec } from '@rxrl/pipeline';
import { resolveColumns } from '@rxrl/core/base';
import type { StageRegistry } from '@rxrl/pipeline';
import { builtinStageRegistry } from '../builtinStages';
import {
  tokenizeKeys,
  withDataTokenize,
  withKeyDefaults,
  type KeyDefaults,
} from '../shared/stepGraph';
import { PAIR_TEXT_SOURCE_COLUMNS } from './pairColumns';
import { optimizerStepDefaults } from '../sft/sftGraph';
import { dpoLossOptionsOf } from './dpoOptions';
import type { DpoConfig } from './runDpo';

/**
 * The resolved per-step graph of a DPO recipe, from raw rows: `data.tokenize` (the
 * `data` format keys, `policy.max_total_sequence_length`, the pairs' texts when a
 * node reads them; first unless `spec` places it), then `spec` (default its `graph:`, else
 * [`policy.reference_logprobs` when the objective reads π_ref] → `loss.dpo` with the
 * `dpo` section's loss keys, or `loss.<dpo.objective.name>` with the objective's
 * options → `optimizer.step`), each node's options over what the recipe's keys give
 * it (`policy.train_micro_batch_size` for the reference and loss nodes, the `policy`
 * optimizer keys for the step). The one source of those options: the run builds
 * its optimizer from the step node's and loads π_ref only for a reference node.
 */
export function dpoGraphSpec(
  config: DpoConfig,
  spec: GraphSpec | null = config.graph,
  registry: StageRegistry = builtinStageRegistry(),
): GraphSpec {
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
  const stages = withDataTokenize(
    spec ?? [
      ...(needsReference ? [{ stage: 'policy.reference_logprobs' }] : []),
      { stage: objective === null ? 'loss.dpo' : `loss.${objective.name}` },
      { stage: 'optimizer.step' },
    ],
  );
  defaults['data.tokenize'] = {
    rows: 'preference',
    ...tokenizeKeys(config.data, config.policy.max_total_sequence_length),
    // the texts are decoded only for a graph with a stage that reads them
    pair_texts: stages.some((n) => readsPairTexts(n, registry)),
  };
  return withKeyDefaults(stages, defaults);
}

/** Whether node `node` reads the pairs' text columns (a `reward.pair` node). */
function readsPairTexts(node: GraphSpec[number], registry: StageRegistry): boolean {
  const def = registry.find(node.stage);
  if (!def || node.stage === 'data.tokenize') return false;
  const parsed = def.schema.safeParse(('options' in node ? node.options : undefined) ?? {});
  const requires = parsed.success
    ? resolveColumns(def.requires, parsed.data)
    : typeof def.requires === 'function'
      ? []
      : [...def.requires];
  return requires.some((c) => PAIR_TEXT_SOURCE_COLUMNS.includes(c));
}
