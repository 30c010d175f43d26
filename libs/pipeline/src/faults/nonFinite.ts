import { RxrlError } from '@rxrl/core/base';
import { z } from 'zod';

/**
 * What the runner does when a step produces a NaN or ±Inf loss or gradient norm:
 * `skip_step` drops that update (weights and optimizer state stay as they were),
 * logs it and goes on with the next batch; `stop` checkpoints the last good step
 * and fails the run (exit 1 from the CLI), so it can be resumed after a fix.
 */
export const onNonFiniteSchema = z.enum(['skip_step', 'stop']);
export type OnNonFinite = z.infer<typeof onNonFiniteSchema>;

/** A loss, gradient norm or other watched metric that is NaN or ±Inf, found before the update was applied. */
export class NonFiniteError extends RxrlError {
  constructor(
    /** the offending metric, e.g. `loss` or `grad_norm` */
    readonly metric: string,
    /** its value (NaN, Infinity or -Infinity) */
    readonly value: number,
    /** the runner step, once known */
    readonly step: number | null = null,
    /** where it first appeared, e.g. `micro-batch 0, forward, at model.layers.3.mlp` (a located fault) */
    readonly origin: string | null = null,
  ) {
    super(
      `non-finite ${metric} (${String(value)})${step === null ? '' : ` at step ${step}`}; the update was not applied${origin === null ? '' : `; ${origin}`}`,
    );
  }

  /** The same fault, tagged with the runner step where it appeared. */
  atStep(step: number): NonFiniteError {
    return new NonFiniteError(this.metric, this.value, step, this.origin);
  }

  /** The same fault with where it first appeared. */
  withOrigin(origin: string): NonFiniteError {
    return new NonFiniteError(this.metric, this.value, this.step, origin);
  }
}

/**
 * Throws {@link NonFiniteError} for the first of `metrics` (in `keys` order, default
 * all keys) that is NaN or ±Inf. Call it after the backward pass and before the
 * optimizer step: a throw there leaves weights and optimizer state untouched.
 */
export function assertFinite(
  metrics: Record<string, number>,
  keys: readonly string[] = Object.keys(metrics),
): void {
  for (const k of keys) {
    const v = metrics[k];
    if (v !== undefined && !Number.isFinite(v)) throw new NonFiniteError(k, v);
  }
}

/** Metric key under which a skipped step is logged: `train/nonfinite/<metric>` = 1 (a `train/` metric, so every sink accepts it). */
export function nonFiniteMetricKey(metric: string): string {
  return `train/nonfinite/${metric}`;
}
