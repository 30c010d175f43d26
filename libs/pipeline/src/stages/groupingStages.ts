import { COLUMNS } from '@rxrl/core/base';
import { groupingStages, type Embedder } from '@rxrl/grouping';
import { defineStage, type StageDefinition } from '../stageDefinition';

/**
 * `grouping.form_groups` of `@rxrl/grouping` as a pipeline stage: rewrites
 * `group_id` with a registered strategy (by_prompt, random, performance, semantic,
 * multi_criteria, adaptive or a user's). Uses the `embedder` service when the
 * strategy needs embeddings; quality metrics (`train/grouping/*`) go to the context.
 */
export function groupingStageDefinitions(): StageDefinition[] {
  const entry = groupingStages['grouping.form_groups'];
  return [
    defineStage({
      name: entry.name,
      description: 'forms groups (group_id) with a registered grouping strategy',
      schema: entry.schema,
      requires: [COLUMNS.promptId, COLUMNS.reward],
      produces: [COLUMNS.groupId],
      create(options, context) {
        const embedder = context.services['embedder'] as Embedder | undefined;
        return entry.create(options, {
          ...(embedder ? { embedder } : {}),
          onMetrics: (events) =>
            context.emit(Object.fromEntries(events.map((e) => [e.name, e.value]))),
        });
      },
    }) as unknown as StageDefinition,
  ];
}
