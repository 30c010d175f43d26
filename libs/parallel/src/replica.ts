import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@rxrl/core';
import { CausalLM } from '@rxrl/model';
import { AdamW } from '@rxrl/optimizer';
import {
  accumulateGradients,
  applySummedGradient,
  assignFromFlat,
  tensorsFromFlat,
  writeToFlat,
} from './flatParams';
import { FlatAdamW } from './flatAdamW';
import { ParamLayout, partRange, variableOwners } from './paramLayout';
import {
  sharedRegions,
  type Reply,
  type ReplicaWorkerData,
  type Request,
  type SharedRegions,
} from './protocol';
import type { ShardLossFn } from './shardLoss';
import { sliceRows, type TrainBatch } from './trainBatch';

// One model replica in a worker thread. Requests arrive one at a time from the
// trainer; gradients and weights move through the shared buffer, never as tensors.

const data = workerData as ReplicaWorkerData;
const port = parentPort!;
const send = (m: Reply) => port.postMessage(m);

const choice = await selectBackend(data.backend);
const mod = (await import(data.stepModuleUrl)) as Record<string, unknown>;
const lossFn = mod[data.stepExport];
if (typeof lossFn !== 'function') {
  throw new Error(`module '${data.stepModule}' has no exported function '${data.stepExport}'`);
}
const model =
  'seed' in data.init
    ? CausalLM.create(data.config, { seed: data.init.seed })
    : CausalLM.fromHfWeights(data.config, data.init.weights, { source: 'parallel init weights' });
const vars = model.trainableVariables();
const layout = new ParamLayout([...vars].map(([name, v]) => ({ name, shape: v.shape })));
const owners = variableOwners(layout, data.numWorkers);
const owned = new Map([...vars].filter(([name]) => owners.get(name) === data.index));
const ownedSlots = layout.slots.filter((s) => owned.has(s.name));
const otherSlots = layout.slots.filter((s) => !owned.has(s.name));
const optimizer =
  data.optimizerScope === 'all'
    ? new AdamW(Object.fromEntries(vars), data.optimizer)
    : data.optimizerScope === 'shard'
      ? new AdamW(Object.fromEntries(owned), data.optimizer)
      : null;
const [sliceLo, sliceHi] = partRange(layout.total, data.numWorkers, data.index);
const flatOptimizer =
  data.optimizerScope === 'flat' ? new FlatAdamW(data.optimizer, sliceLo, sliceHi) : null;
let regions: SharedRegions | null = null;

function compute(shard: TrainBatch): number {
  const out = regions!.grads[data.index]!;
  out.fill(0);
  const step = data.microBatch ?? Math.max(1, shard.rows);
  let loss = 0;
  for (let lo = 0; lo < shard.rows; lo += step) {
    const chunk =
      lo === 0 && step >= shard.rows
        ? shard
        : sliceRows(shard, lo, Math.min(shard.rows, lo + step));
    const { value, grads } = model.variableGrads(() => (lossFn as ShardLossFn)(model, chunk));
    try {
      loss += value.dataSync()[0]!;
      accumulateGradients(layout.slots, grads, out);
    } finally {
      value.dispose();
      for (const g of grads.values()) g?.dispose();
    }
  }
  return loss;
}

/**
 * Sums this worker's slice of every worker's gradient region into the sum
 * region (reduce-scatter); returns the slice's sum of squares (float64) for the global norm.
 */
function reduce(): number {
  const { grads, sum } = regions!;
  const [lo, hi] = [sliceLo, sliceHi];
  sum.set(grads[0]!.subarray(lo, hi), lo);
  for (let w = 1; w < grads.length; w++) {
    const g = grads[w]!;
    for (let i = lo; i < hi; i++) sum[i]! += g[i]!;
  }
  let sq = 0;
  for (let i = lo; i < hi; i++) sq += sum[i]! * sum[i]!;
  return sq;
}

/** Sharded optimizer: the AdamW step for this worker's variables from `coef × sum`, then their new values into the weights region. */
function applyShard(coef: number): void {
  if (data.optimizerScope !== 'shard')
    throw new Error(
      `'apply_shard' sent to a worker whose optimizer scope is '${data.optimizerScope}'`,
    );
  const grads = tensorsFromFlat(ownedSlots, regions!.sum, coef);
  try {
    optimizer!.step(grads);
  } finally {
    for (const g of Object.values(grads)) g.dispose();
  }
  writeToFlat(ownedSlots, owned, regions!.weights);
}

function handle(
  req: Request,
): Omit<Extract<Reply, { op: 'done' }>, 'id' | 'op' | 'ms' | 'numTensors'> {
  switch (req.op) {
    case 'attach':
      regions = sharedRegions(req.buffer, data.numWorkers, layout.total);
      // the fused optimizer updates the weights region in place, so it must start as the weights
      if (flatOptimizer && data.index === 0) writeToFlat(layout.slots, vars, regions.weights);
      return {};
    case 'apply_flat':
      if (!flatOptimizer)
        throw new Error(
          `'apply_flat' sent to a worker whose optimizer scope is '${data.optimizerScope}'`,
        );
      flatOptimizer.step(regions!.weights, regions!.sum, req.coef);
      return {};
    case 'compute':
      return { loss: compute(req.shard) };
    case 'reduce':
      return { sumSq: reduce() };
    case 'apply_shard':
      applyShard(req.coef);
      return {};
    case 'apply':
      if (data.optimizerScope !== 'all')
        throw new Error(
          `'apply' sent to a worker whose optimizer scope is '${data.optimizerScope}'`,
        );
      return {
        gradNorm: applySummedGradient(layout.slots, regions!.sum, optimizer!, data.maxGradNorm),
      };
    case 'load':
      assignFromFlat(req.which === 'all' ? layout.slots : otherSlots, regions!.weights, vars);
      return {};
    case 'export':
      return { weights: model.exportHfWeights() };
  }
}

port.on('message', (req: Request) => {
  const t0 = performance.now();
  try {
    const out = handle(req);
    send({
      id: req.id,
      op: 'done',
      ...out,
      ms: performance.now() - t0,
      numTensors: tf.memory().numTensors,
    });
  } catch (e) {
    const err = e as Error;
    send({
      id: req.id,
      op: 'error',
      message: err instanceof Error ? `${err.name}: ${err.message}` : String(e),
    });
  }
});
send({ op: 'ready', layout: layout.toJSON(), backend: choice.backend });
