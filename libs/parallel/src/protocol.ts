import type { HostTensor, ModelConfig } from '@rxrl/model';
import type { AdamOptionsInput } from '@rxrl/optimizer';
import type { TrainBatch } from './trainBatch';

/** How replicas start: a seeded random init, or given HF-named weights (as read from safetensors). */
export type ReplicaInit = { seed: number } | { weights: Map<string, HostTensor> };

/** What each worker is started with (structured-cloned once). */
export interface ReplicaWorkerData {
  index: number;
  numWorkers: number;
  config: ModelConfig;
  init: ReplicaInit;
  stepModuleUrl: string;
  stepModule: string;
  stepExport: string;
  microBatch: number | null;
  maxGradNorm: number | null;
  optimizer: AdamOptionsInput;
  /** which optimizer state this worker keeps: every variable's, its share of the variables', a fused AdamW over its flat slice, or none (main thread has it) */
  optimizerScope: 'all' | 'shard' | 'flat' | 'none';
  backend: string;
  /** whether the worker registers tsx: the replica or the step module is TypeScript */
  useTsx: boolean;
  /** the replica module: replica.ts from the workspace's sources, replica.js when built */
  replicaUrl: string;
}

/** Main → worker requests; each gets exactly one reply with the same id. */
export type Request =
  | { id: number; op: 'attach'; buffer: SharedArrayBuffer }
  | { id: number; op: 'compute'; shard: TrainBatch }
  | { id: number; op: 'reduce' }
  | { id: number; op: 'apply' }
  | { id: number; op: 'apply_shard'; coef: number }
  | { id: number; op: 'apply_flat'; coef: number }
  | { id: number; op: 'load'; which: 'all' | 'others' }
  | { id: number; op: 'export' };

/** Worker → main messages. */
export type Reply =
  | { op: 'ready'; layout: { name: string; shape: number[] }[]; backend: string }
  | {
      id: number;
      op: 'done';
      loss?: number;
      gradNorm?: number;
      sumSq?: number;
      weights?: Map<string, HostTensor>;
      ms: number;
      numTensors: number;
    }
  | { id?: number; op: 'error'; message: string };

/**
 * Float32 views over the one shared buffer: one gradient region per worker,
 * the summed gradient, and the weights broadcast region, each `total` long.
 */
export interface SharedRegions {
  grads: Float32Array[];
  sum: Float32Array;
  weights: Float32Array;
}

/** Bytes of the shared buffer for `workers` workers and `total` parameters. */
export function sharedBytes(workers: number, total: number): number {
  return (workers + 2) * total * Float32Array.BYTES_PER_ELEMENT;
}

/** The regions of `buffer` (see {@link SharedRegions}). */
export function sharedRegions(
  buffer: SharedArrayBuffer,
  workers: number,
  total: number,
): SharedRegions {
  const view = (i: number) =>
    new Float32Array(buffer, i * total * Float32Array.BYTES_PER_ELEMENT, total);
  return {
    grads: Array.from({ length: workers }, (_, i) => view(i)),
    sum: view(workers),
    weights: view(workers + 1),
  };
}
