import { COLUMNS, defineStage, type StageDefinition } from '@rxrl/core/base';
import { advantagesStage } from './advantagesStage';
import { dynamicSamplingStage } from './dynamicSamplingStage';
import { overlongFilterStage } from './overlongFilterStage';
import type { Embedder } from './strategies/groupingInput';
import { groupingStage, groupingStageOptions } from './strategies/groupingStage';

/**
 * `grouping.form_groups`: rewrites `group_id` with a registered strategy (by_prompt,
 * random, performance, semantic, multi_criteria, adaptive or a user's). Uses the
 * `embedder` service when the strategy needs embeddings; quality metrics
 * (`train/grouping/*`) go to the context.
 */
export const formGroupsStage = defineStage({
  name: 'grouping.form_groups',
  description: 'forms groups (group_id) with a registered grouping strategy',
  schema: groupingStageOptions,
  requires: [COLUMNS.promptId, COLUMNS.reward],
  produces: [COLUMNS.groupId],
  create(options, context) {
    const embedder = context.services['embedder'] as Embedder | undefined;
    return groupingStage(options, {
      ...(embedder ? { embedder } : {}),
      onMetrics: (events) => context.emit(Object.fromEntries(events.map((e) => [e.name, e.value]))),
    });
  },
});

/** The stages of @rxrl/grouping, for a stage registry. */
export function groupingStageDefinitions(): StageDefinition[] {
  return [formGroupsStage, advantagesStage, overlongFilterStage, dynamicSamplingStage];
}
