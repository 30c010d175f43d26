import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { siblingModule } from '@rxrl/core';
import { AdamOptionsSchema } from '@rxrl/optimizer';

/** The default step: SFT token NLL ({@link sftNllLoss}). */
export const DEFAULT_STEP_MODULE = siblingModule(import.meta.url, './sftNllLoss').href;

/** Options of {@link DataParallelTrainer}. */
export const DataParallelOptionsSchema = z.strictObject({
  /** worker threads, one model replica each; default: the machine's cores */
  num_workers: z
    .number()
    .int()
    .positive()
    .default(() => availableParallelism()),
  /** module exporting the shard loss (a path relative to the working directory, or a file: URL); default: SFT NLL */
  step_module: z.string().min(1).default(DEFAULT_STEP_MODULE),
  /** name of the {@link ShardLossFn} export in `step_module` */
  step_export: z.string().min(1).default('sftNllLoss'),
  /** rows per forward/backward inside a worker (gradients accumulate over them); null: the worker's whole shard at once */
  train_micro_batch_size: z.number().int().positive().nullable().default(null),
  /** global-norm gradient clipping of the summed gradient (NeMo RL `policy.max_grad_norm`); null: no clipping */
  max_grad_norm: z.number().positive().nullable().default(null),
  /** AdamW keyword arguments (torch names) */
  optimizer: AdamOptionsSchema.default({ lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8 }),
  /**
   * How replicas stay in step after the gradient all-reduce (default `sharded_flat`,
   * the cheapest update phase measured on `small`; see the README):
   * `replicated_optimizer` — every worker applies the same AdamW step to its whole
   * replica (only gradients cross threads); `sharded_optimizer` — each worker keeps
   * the AdamW state of, and updates, only its share of the variables (ZeRO-1 style),
   * then copies the others' new values from shared memory; `sharded_flat` — like
   * `sharded_optimizer`, but each worker runs a fused plain-JS AdamW over its
   * contiguous slice of the flat weights in shared memory (evenly balanced, one
   * pass per element), then every worker copies all weights in; `broadcast_weights` — the
   * main thread holds the master weights and the optimizer and copies the new
   * weights to every worker.
   */
  sync: z
    .enum(['replicated_optimizer', 'sharded_optimizer', 'sharded_flat', 'broadcast_weights'])
    .default('sharded_flat'),
  /** TensorFlow.js backend of the workers; null: the main thread's current backend (else auto) */
  backend: z.enum(['auto', 'tensorflow', 'native', 'wasm', 'cpu']).nullable().default(null),
});

/** Validated options of {@link DataParallelTrainer}. */
export type DataParallelOptions = z.infer<typeof DataParallelOptionsSchema>;
/** Options as a user writes them (defaults filled by the schema). */
export type DataParallelOptionsInput = z.input<typeof DataParallelOptionsSchema>;

/** A module path (relative to the working directory) or URL as a URL string. */
export function moduleUrl(module: string): string {
  if (/^(?:file|data|node):/.test(module)) return module;
  return pathToFileURL(isAbsolute(module) ? module : resolve(process.cwd(), module)).href;
}
