import type { z } from 'zod';
import { RewardWorkerPool, workerPoolOptions } from './workerPool';
import type { RewardContext, RewardFn, RewardSample } from './sample';

/** A reward function backed by a worker pool; `close()` ends its threads. */
export interface WorkerReward extends RewardFn {
  /** The pool, made on first use. */
  readonly pool: RewardWorkerPool | undefined;
  close(): Promise<void>;
}

/**
 * A verifier run in worker threads (`reward.worker`): the module and export name say what
 * to run, since functions cannot cross threads. Timeouts and throws give null and are
 * reported to the stage, which counts them as `reward/timeouts` and `reward/errors`.
 *
 * @example workerReward({ module: './verifiers/sympy.mjs', export: 'verify', timeout_ms: 2000 })
 */
export function workerReward(options: z.input<typeof workerPoolOptions>): WorkerReward {
  const parsed = workerPoolOptions.parse(options);
  let pool: RewardWorkerPool | undefined;
  const fn = async (sample: RewardSample, ctx?: RewardContext) => {
    pool ??= new RewardWorkerPool(parsed);
    const out = await pool.run(sample);
    if (out.status !== 'ok') ctx?.report(out.status, out.detail);
    return out.value;
  };
  // defineProperty, not Object.assign: assign would copy the getter's current value once.
  Object.defineProperty(fn, 'pool', { get: () => pool, enumerable: true });
  return Object.assign(fn as typeof fn & { readonly pool: RewardWorkerPool | undefined }, {
    close: async () => {
      await pool?.close();
      pool = undefined;
    },
  });
}
