import type { RecordBatch } from 'apache-arrow';
import { concatMap, defer, filter, finalize, merge, Subject } from 'rxjs';
import { batchMeta, RxrlError, withBatchMeta, type Stage } from '@rxrl/core/base';
import { openGraphSession } from '@rxrl/pipeline';
import { DYNAMIC_SAMPLING_KEEP_COLUMN, readRewardColumn, stepComplete } from '@rxrl/grouping';
import { microBatches } from '../shared/microBatches';
import { updateBatch, withUpdatesInStep } from './clippedPgLossStage';
import { joinRolloutRows, readRolloutRows, type RolloutRows } from './rolloutRows';

/** What one GRPO step generated and what it trains on. */
export interface StepRollout {
  /** the step's generation batches as the rollout stages made them */
  batches: RecordBatch[];
  /** every generation batch of the step, in order (more than one when dynamic sampling refilled it) */
  generated: RolloutRows[];
  /** the rows of each generation batch the step trains on (all, without `filter.dynamic_sampling`) */
  kept: number[][];
  /** the kept rows of every batch, joined: the samples the policy updates are cut from */
  train: RolloutRows;
}

/** How {@link grpoStepLoop} joins a step's rollout to its policy updates. */
export interface GrpoStepLoopOptions {
  /** the policy update (`loss.clipped_pg` → `optimizer.step`), subscribed once with the loop */
  update: Stage;
  /** samples per optimizer update (`policy.train_global_batch_size`) */
  globalBatchSize: number;
  /**
   * The next prompt batch of the epoch for a step that `filter.dynamic_sampling` left
   * short (the runner's `more`), undefined at the epoch's end: the step then trains
   * on what it kept.
   */
  more(): Promise<RecordBatch | undefined>;
  /** the step's rollout, once it is complete and before its first update */
  onRollout?(rollout: StepRollout): void;
  /** before each of the step's `count` updates (`index` from 0) */
  beforeUpdate?(index: number, count: number): void;
}

/** A step's generation batches as host rows, with the rows it trains on. */
export function stepRollout(rounds: readonly RecordBatch[]): StepRollout {
  const generated: RolloutRows[] = [];
  const kept: number[][] = [];
  for (const out of rounds) {
    generated.push(readRolloutRows(out));
    const marks = out.getChild(DYNAMIC_SAMPLING_KEEP_COLUMN)
      ? readRewardColumn(out, DYNAMIC_SAMPLING_KEEP_COLUMN)
      : null;
    const keep: number[] = [];
    for (let i = 0; i < out.numRows; i++) if (!marks || marks[i] === 1) keep.push(i);
    kept.push(keep);
  }
  const train =
    generated.length === 1 && kept[0]!.length === generated[0]!.rewards.length
      ? generated[0]!
      : joinRolloutRows(
          generated.map((from, i) => ({ from, rows: kept[i]! })).filter((p) => p.rows.length > 0),
        );
  return { batches: [...rounds], generated, kept, train };
}

/**
 * One GRPO graph: `rollout` (generation, reward, advantages, filters) and the policy
 * `update` joined into a single stage, subscribed once for a run and fed one prompt
 * batch per step (tagged with its step). A step's generation batches come out of
 * `rollout`; while `filter.dynamic_sampling` marks one incomplete, the loop pulls the
 * epoch's next prompt batch (`more`) and sends it round again through `rollout` as the
 * same step's next round. When the step is complete (or the epoch has no more), its
 * kept rows are cut into optimizer batches of `globalBatchSize` samples, each sent
 * through `update` in turn, and the step's last generation batch comes out: one batch
 * out per batch in, as a graph session expects.
 */
export function grpoStepLoop(rollout: Stage, o: GrpoStepLoopOptions): Stage {
  return (steps) =>
    defer(() => {
      const refill = new Subject<RecordBatch>();
      const updates = openGraphSession(o.update);
      let rounds: RecordBatch[] = [];
      return merge(steps, refill).pipe(
        rollout,
        concatMap(async (out: RecordBatch): Promise<RecordBatch | null> => {
          const meta = batchMeta(out);
          if (!meta)
            throw new RxrlError('a GRPO graph reads the step of each batch (withBatchMeta)');
          rounds.push(out);
          if (!stepComplete(out)) {
            const next = await o.more();
            if (next) {
              refill.next(withBatchMeta(next, { step: meta.step, round: meta.round + 1 }));
              return null;
            }
          }
          const step = stepRollout(rounds);
          rounds = [];
          o.onRollout?.(step);
          const { train } = step;
          const parts = microBatches(
            Array.from({ length: train.rewards.length }, (_, i) => i),
            o.globalBatchSize,
          );
          for (const [i, rows] of parts.entries()) {
            o.beforeUpdate?.(i, parts.length);
            const part = parts.length === 1 ? train : joinRolloutRows([{ from: train, rows }]);
            await updates.push(
              withBatchMeta(withUpdatesInStep(updateBatch(part), parts.length), {
                step: meta.step,
                round: 0,
              }),
            );
          }
          return out;
        }),
        filter((out): out is RecordBatch => out !== null),
        finalize(() => {
          refill.complete();
          updates.close();
        }),
      );
    });
}
