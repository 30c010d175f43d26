import * as tf from '@tensorflow/tfjs-core';
import type { RecordBatch } from 'apache-arrow';
import { readFloat32Column } from '@rxrl/core/base';
import { DPO_SHIFTABLE_LOSS_TYPES, type DpoInputs, type DpoLossType } from '@rxrl/loss';
import type { ValidatedNode } from '@rxrl/pipeline';
import { parsePairColumn } from '@rxrl/reward';

/** The bonuses and margins of a micro-batch's pairs, as `dpoLoss` takes them ([m] each). */
export type PairShifts = Pick<DpoInputs, 'bonuses' | 'margins'>;

/**
 * Rows `rows` of a preference batch's bonus (`bonus/<name>/chosen|rejected`) and
 * margin (`margin/<name>`) columns, which a `reward.pair` node before the loss node
 * wrote, as tensors (a side without its column counts 0); `{}` for a batch without
 * them, so the loss is the plain one.
 */
export function pairShiftsOf(batch: RecordBatch, rows: readonly number[]): PairShifts {
  const pick = (values: Float32Array) => tf.tensor1d(rows.map((r) => values[r]!));
  const zeros = () => tf.zeros([rows.length]) as tf.Tensor1D;
  const bonusSides: Record<string, { chosen?: Float32Array; rejected?: Float32Array }> = {};
  const margins: Record<string, tf.Tensor1D> = {};
  for (const f of batch.schema.fields) {
    const c = parsePairColumn(f.name);
    if (c?.kind === 'bonus') (bonusSides[c.name] ??= {})[c.side] = readFloat32Column(batch, f.name);
    else if (c?.kind === 'margin') margins[c.name] = pick(readFloat32Column(batch, f.name));
  }
  const names = Object.keys(bonusSides);
  const bonuses = Object.fromEntries(
    names.map((n) => {
      const { chosen, rejected } = bonusSides[n]!;
      return [
        n,
        { chosen: chosen ? pick(chosen) : zeros(), rejected: rejected ? pick(rejected) : zeros() },
      ];
    }),
  );
  return {
    ...(names.length > 0 ? { bonuses } : {}),
    ...(Object.keys(margins).length > 0 ? { margins } : {}),
  };
}

/** Whether a node writes bonus or margin columns (a pair-scoring stage such as `reward.pair`). */
export function writesPairShifts(node: ValidatedNode): boolean {
  return node.produces.some((c) => parsePairColumn(c) !== null);
}

/** A problem of a graph with bonus or margin columns: which node, which of its keys, and what. */
export interface PairShiftProblem {
  /** index of the node in the resolved graph */
  node: number;
  /** `stage`: the node is misplaced or the wrong loss; `loss_type`: the loss node's option */
  key: 'stage' | 'loss_type';
  message: string;
}

/**
 * The cross-checks of a per-step DPO graph whose nodes write bonus or margin columns:
 * each such node comes before the loss node (the loss reads them from the batch), and
 * the loss node is `loss.dpo` with loss types built on the pair logit β·Δ, which the
 * terms shift (a named objective's node — `loss.orpo`, `loss.cpo`, `loss.kto` — would
 * ignore them); an objective given in code (`loss.objective`) gets them as inputs.
 */
export function pairShiftProblems(nodes: readonly ValidatedNode[]): PairShiftProblem[] {
  const writers = nodes.flatMap((n, i) => (writesPairShifts(n) ? [i] : []));
  if (writers.length === 0) return [];
  const loss = nodes.findIndex((n) => n.name.startsWith('loss.'));
  if (loss < 0) return [];
  const problems: PairShiftProblem[] = writers
    .filter((i) => i > loss)
    .map((i) => ({
      node: i,
      key: 'stage',
      message: `${nodes[i]!.name} writes bonus / margin columns after the loss node ${nodes[loss]!.name}, which reads them: put it before`,
    }));
  const name = nodes[loss]!.name;
  if (name === 'loss.objective') return problems;
  if (name !== 'loss.dpo') {
    problems.push({
      node: loss,
      key: 'stage',
      message: `the graph's bonus and margin columns enter the DPO loss (loss.dpo); ${name} does not read them`,
    });
    return problems;
  }
  const lossType = (nodes[loss]!.options as { loss_type: DpoLossType | DpoLossType[] }).loss_type;
  const types = Array.isArray(lossType) ? lossType : [lossType];
  const other = types.filter((t) => t !== 'sft' && !DPO_SHIFTABLE_LOSS_TYPES.includes(t));
  if (other.length > 0 || types.every((t) => t === 'sft'))
    problems.push({
      node: loss,
      key: 'loss_type',
      message: `the graph's bonuses and margins shift the pair logit β·Δ, which ${(other.length > 0 ? other : types).join(', ')} does not use; use ${DPO_SHIFTABLE_LOSS_TYPES.join(', ')}`,
    });
  return problems;
}
