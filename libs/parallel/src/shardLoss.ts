import type * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from '@rxrl/model';
import type { TrainBatch } from './trainBatch';

/**
 * A training step's loss for one worker's shard: the pluggable part of
 * {@link DataParallelTrainer}. It runs inside `variableGrads` on the worker's
 * replica and must normalise by the global batch (read the normalisers from
 * `shard.globals`), so that the shards' losses and gradients sum to the
 * full-batch ones. Export it from a module and name it in `step_module` /
 * `step_export`.
 */
export type ShardLossFn = (model: CausalLM, shard: TrainBatch) => tf.Scalar;
