import { defer, map } from 'rxjs';
import { RecordBatch, Schema } from 'apache-arrow';
import { z } from 'zod';
import {
  COLUMNS,
  RxrlError,
  addColumns,
  batchMeta,
  defineStage,
  readInt32Column,
} from '@rxrl/core/base';
import { readRewardColumn } from './advantages/advantageColumns';
import { dynamicSamplingFilter } from './advantages/dynamicSampling';

/** Column `filter.dynamic_sampling` writes: 1 for the rows the step trains on, 0 for the rest. */
export const DYNAMIC_SAMPLING_KEEP_COLUMN = 'dynamic_sampling_keep';

/** Schema metadata key `filter.dynamic_sampling` sets to `1` on the batch that completes its step. */
const STEP_COMPLETE_KEY = 'rxrl.step_complete';

/**
 * Whether a batch out of a graph completes its step: true unless the graph has a
 * `filter.dynamic_sampling` that still wants more groups for it (the source then
 * sends the step's next prompt batch, its next round).
 */
export function stepComplete(batch: RecordBatch): boolean {
  if (!batch.getChild(DYNAMIC_SAMPLING_KEEP_COLUMN)) return true;
  return batch.schema.metadata.get(STEP_COMPLETE_KEY) === '1';
}

const dynamicSamplingSchema = z.strictObject({
  /** prompt groups with differing rewards a step trains on (`grpo.num_prompts_per_step`) */
  target_groups: z.int().min(1),
  /** generation batches a step may use before it fails (`grpo.dynamic_sampling_max_gen_batches`) */
  max_gen_batches: z.int().min(1).default(10),
});

/**
 * `filter.dynamic_sampling`: DAPO dynamic sampling with NeMo RL's refill semantics,
 * batch by batch. Groups whose rewards are all equal carry no GRPO gradient; the
 * first `target_groups` groups that differ, in generation order, are marked
 * (`dynamic_sampling_keep` = 1) and the rest get 0, the surplus of the batch that
 * reaches the target included. A batch that leaves the step short is passed on
 * marked incomplete (`stepComplete` false): the source then sends the step's next
 * prompt batch (same step, next round in its metadata). After `max_gen_batches`
 * batches of one step without enough groups it fails naming the setting. Counts per
 * step, keyed by the batches' step metadata (no counter of its own to drift):
 * `dynamic_sampling_num_gen_batches`, `…_kept_groups`, `…_kept_fraction`,
 * `…_num_discarded_valid_samples`.
 */
export const dynamicSamplingStage = defineStage({
  name: 'filter.dynamic_sampling',
  description:
    'marks the first target_groups groups whose rewards differ; asks for more batches until there are enough',
  schema: dynamicSamplingSchema,
  requires: [COLUMNS.reward, COLUMNS.groupId],
  produces: [DYNAMIC_SAMPLING_KEEP_COLUMN],
  create(o, context) {
    return (source) =>
      defer(() => {
        let state = {
          step: Number.NaN,
          batches: 0,
          keptGroups: 0,
          generatedGroups: 0,
          discarded: 0,
        };
        return source.pipe(
          map((batch: RecordBatch) => {
            const meta = batchMeta(batch);
            // round 0 (or an untagged batch) starts a step
            if (!meta || meta.round === 0 || meta.step !== state.step)
              state = {
                step: meta?.step ?? Number.NaN,
                batches: 0,
                keptGroups: 0,
                generatedGroups: 0,
                discarded: 0,
              };
            state.batches++;
            const groupIds = Int32Array.from(readInt32Column(batch, COLUMNS.groupId));
            const filter = dynamicSamplingFilter(readRewardColumn(batch, COLUMNS.reward), groupIds);
            state.generatedGroups += filter.numGroups;
            const keep = new Float32Array(batch.numRows);
            // whole groups in order of first appearance until the target is met
            const taken = new Set<number>();
            for (let i = 0; i < batch.numRows; i++) {
              if (!filter.keep[i]) continue;
              const g = groupIds[i]!;
              if (!taken.has(g)) {
                if (state.keptGroups >= o.target_groups) {
                  state.discarded++;
                  continue;
                }
                taken.add(g);
                state.keptGroups++;
              }
              keep[i] = 1;
            }
            const complete = state.keptGroups >= o.target_groups;
            if (!complete && state.batches >= o.max_gen_batches) {
              throw new RxrlError(
                `grpo.use_dynamic_sampling: after ${state.batches} generation batches (grpo.dynamic_sampling_max_gen_batches) only ${state.keptGroups} of the ${o.target_groups} prompt groups needed had rewards that differ within the group. Raise grpo.dynamic_sampling_max_gen_batches or grpo.batch_multiplier, generate more samples per prompt, or use prompts closer to the policy's level (the groups were all right or all wrong)`,
              );
            }
            context.emit({
              dynamic_sampling_num_gen_batches: state.batches,
              dynamic_sampling_kept_groups: state.keptGroups,
              dynamic_sampling_kept_fraction:
                state.generatedGroups === 0 ? 0 : state.keptGroups / state.generatedGroups,
              dynamic_sampling_num_discarded_valid_samples: state.discarded,
            });
            const out = addColumns(batch, { [DYNAMIC_SAMPLING_KEEP_COLUMN]: keep });
            const metadata = new Map(out.schema.metadata);
            metadata.set(STEP_COMPLETE_KEY, complete ? '1' : '0');
            return new RecordBatch(new Schema(out.schema.fields, metadata), out.data);
          }),
        );
      });
  },
});
