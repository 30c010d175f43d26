import { RxrlError } from '@rxrl/core/base';
import { dynamicSamplingFilter } from '@rxrl/grouping';
import { joinRolloutRows, type RolloutRows } from './rolloutRows';

/** What one dynamic-sampling step trains on, and what it cost to find it. */
export interface RefillResult {
  /** the first `targetGroups` groups whose rewards differ, in generation order (fewer only when the epoch ran out) */
  rows: RolloutRows;
  /** every generation batch of the step, filtered or not (for reward and accuracy metrics) */
  generated: RolloutRows[];
  /** groups in `rows` */
  keptGroups: number;
  /** groups generated in all batches */
  generatedGroups: number;
  /** samples of groups that passed the filter but came after the target was reached */
  discardedValidSamples: number;
  /** true when `next` ran out (end of the epoch) before the target was reached */
  exhausted: boolean;
}

/**
 * DAPO dynamic sampling with NeMo RL's refill loop: keep only groups whose
 * rewards are not all equal (they carry a GRPO gradient), and generate further
 * prompt batches (`next`) until `targetGroups` such groups are collected; the
 * surplus of the last batch is discarded. After `maxGenBatches` generation
 * batches without enough groups it throws, as NeMo RL does, rather than train
 * on a silently smaller batch. When `next` returns undefined (the epoch has no
 * more prompts) it returns what it has.
 */
export async function refillVaryingGroups(
  first: RolloutRows,
  next: () => Promise<RolloutRows | undefined>,
  options: { targetGroups: number; maxGenBatches: number },
): Promise<RefillResult> {
  const { targetGroups, maxGenBatches } = options;
  const generated: RolloutRows[] = [];
  const parts: { from: RolloutRows; rows: number[] }[] = [];
  let keptGroups = 0;
  let generatedGroups = 0;
  let discardedValidSamples = 0;
  let exhausted = false;
  let batch: RolloutRows | undefined = first;
  while (batch) {
    generated.push(batch);
    const filter = dynamicSamplingFilter(batch.rewards, batch.groupIds);
    generatedGroups += filter.numGroups;
    // take whole groups in order of first appearance until the target is met
    const taken = new Set<number>();
    const rows: number[] = [];
    for (let i = 0; i < batch.rewards.length; i++) {
      if (!filter.keep[i]) continue;
      const g = batch.groupIds[i]!;
      if (!taken.has(g)) {
        if (keptGroups >= targetGroups) {
          discardedValidSamples++;
          continue;
        }
        taken.add(g);
        keptGroups++;
      }
      rows.push(i);
    }
    if (rows.length > 0) parts.push({ from: batch, rows });
    if (keptGroups >= targetGroups) break;
    if (generated.length >= maxGenBatches) {
      throw new RxrlError(
        `grpo.use_dynamic_sampling: after ${generated.length} generation batches (grpo.dynamic_sampling_max_gen_batches) only ${keptGroups} of the ${targetGroups} prompt groups needed had rewards that differ within the group. Raise grpo.dynamic_sampling_max_gen_batches or grpo.batch_multiplier, generate more samples per prompt, or use prompts closer to the policy's level (the groups were all right or all wrong)`,
      );
    }
    batch = await next();
    if (!batch) exhausted = true;
  }
  return {
    rows: joinRolloutRows(parts),
    generated,
    keptGroups,
    generatedGroups,
    discardedValidSamples,
    exhausted,
  };
}
