import * as tf from '@tensorflow/tfjs-core';
import { RxrlDataError } from '@rxrl/core/base';
import { nllLoss } from '@rxrl/loss';
import type { CausalLM } from '@rxrl/model';
import type { TrainBatch } from './trainBatch';

function column<T extends Int32Array | Float32Array | Uint8Array>(
  shard: TrainBatch,
  name: string,
  kind: new (n: number) => T,
): T {
  const col = shard.columns[name];
  if (!(col instanceof kind)) {
    throw new RxrlDataError(
      `sftNllLoss: column '${name}' must be a ${kind.name}, got ${col ? col.constructor.name : 'nothing'}`,
      { field: name },
    );
  }
  return col;
}

/**
 * SFT token NLL of one shard (NeMo RL `NLLLoss`): −Σ log p(target)·mask / (N + 1e-8),
 * N = `globals.global_valid_toks`, the masked-in tokens of the whole global batch.
 * Columns, each `[rows, T]` row-major: `input_ids` (Int32Array), `targets`
 * (Int32Array, already shifted), `token_mask` (Float32Array) and optionally
 * `attention_mask` (Int32Array, 1 = real token). This is the trainer's default step.
 */
export function sftNllLoss(model: CausalLM, shard: TrainBatch): tf.Scalar {
  const n = shard.globals?.['global_valid_toks'];
  if (typeof n !== 'number' || !(n >= 0)) {
    throw new RxrlDataError(
      `sftNllLoss: globals.global_valid_toks must be a non-negative number, got ${n}`,
      { field: 'global_valid_toks' },
    );
  }
  const ids = column(shard, 'input_ids', Int32Array);
  const targets = column(shard, 'targets', Int32Array);
  const mask = column(shard, 'token_mask', Float32Array);
  const att =
    shard.columns['attention_mask'] === undefined
      ? null
      : column(shard, 'attention_mask', Int32Array);
  const rows = shard.rows;
  const t = rows === 0 ? 0 : ids.length / rows;
  for (const [name, col] of [
    ['targets', targets],
    ['token_mask', mask],
    ['attention_mask', att],
  ] as const) {
    if (col && col.length !== ids.length) {
      throw new RxrlDataError(
        `sftNllLoss: column '${name}' has ${col.length} elements, input_ids has ${ids.length}`,
        { field: name },
      );
    }
  }
  if (rows === 0 || t === 0) return tf.scalar(0);
  return tf.tidy(() => {
    const shape: [number, number] = [rows, t];
    const logprobs = model.tokenLogProbs(
      tf.tensor2d(ids, shape, 'int32'),
      att ? tf.tensor2d(att, shape, 'int32') : null,
      tf.tensor2d(targets, shape, 'int32'),
    );
    // the loss library's NLL (NeMo RL's NLLLoss), normalised by the global batch's tokens
    return nllLoss({ logprobs, tokenMask: tf.tensor2d(mask, shape), globalValidToks: n }).loss;
  });
}

/** Inputs of {@link sftTrainBatch}: next-token arrays `[rows, T]` row-major. */
export interface SftArrays {
  rows: number;
  inputIds: Int32Array;
  /** the tokens each position predicts (inputs shifted by one) */
  targets: Int32Array;
  /** 1 where the target trains */
  tokenMask: Float32Array;
  /** 1 on real input tokens; omit for unpadded batches */
  attentionMask?: Int32Array;
}

/** A {@link TrainBatch} for {@link sftNllLoss}, with `global_valid_toks` counted over the whole batch. */
export function sftTrainBatch(a: SftArrays): TrainBatch {
  let n = 0;
  for (let i = 0; i < a.tokenMask.length; i++) n += a.tokenMask[i]!;
  const columns: TrainBatch['columns'] = {
    input_ids: a.inputIds,
    targets: a.targets,
    token_mask: a.tokenMask,
  };
  if (a.attentionMask) columns['attention_mask'] = a.attentionMask;
  return { rows: a.rows, columns, globals: { global_valid_toks: n } };
}
