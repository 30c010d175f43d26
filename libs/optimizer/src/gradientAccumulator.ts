import * as tf from '@tensorflow/tfjs-core';
import { RxrlUsageError } from '@rxrl/core';
import type { NamedTensors } from './namedVariables';

/**
 * Sums gradients over micro-batches, keyed by variable name. With losses
 * normalised by global-batch counts (DESIGN.md), the sum *is* the full-batch
 * gradient, so no averaging happens here. The accumulator owns its sums.
 */
export class GradientAccumulator {
  private sums = new Map<string, tf.Tensor>();
  private n = 0;

  /** micro-batches added since the last reset */
  get count(): number {
    return this.n;
  }

  /**
   * Adds one micro-batch's gradients. The accumulator never keeps the given
   * tensors; with `dispose: true` it disposes them (the usual case for the
   * output of tf.variableGrads).
   */
  add(grads: NamedTensors, options: { dispose?: boolean } = {}): void {
    for (const [name, g] of Object.entries(grads)) {
      const prev = this.sums.get(name);
      if (prev && !tf.util.arraysEqual(prev.shape, g.shape)) {
        throw new RxrlUsageError(
          `gradient '${name}' changed shape from [${prev.shape}] to [${g.shape}] between micro-batches`,
        );
      }
      const next = tf.tidy(() => (prev ? tf.add(prev, g) : tf.clone(g)));
      prev?.dispose();
      this.sums.set(name, next);
      if (options.dispose) g.dispose();
    }
    this.n++;
  }

  /** The current sums, still owned by the accumulator (valid until the next add, take or reset). */
  peek(): Readonly<Record<string, tf.Tensor>> {
    return Object.fromEntries(this.sums);
  }

  /** Hands the sums to the caller (who must dispose them) and resets. */
  take(): Record<string, tf.Tensor> {
    const out = Object.fromEntries(this.sums);
    this.sums = new Map();
    this.n = 0;
    return out;
  }

  /** Disposes the sums and starts over. */
  reset(): void {
    for (const t of this.sums.values()) t.dispose();
    this.sums.clear();
    this.n = 0;
  }
}
