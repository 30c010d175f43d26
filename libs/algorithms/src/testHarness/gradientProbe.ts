import type * as tf from '@tensorflow/tfjs-core';
import { NamedOptimizer, type NamedTensors, type NamedVariables } from '@rxrl/optimizer';

/**
 * An optimizer that changes nothing: each `step()` records the update a trainer
 * hands it — every gradient times the clip coefficient (`gradScale`), copied to
 * host memory — so two runs of the same step can be compared without the first
 * one moving the weights under the second.
 */
export class GradientProbe extends NamedOptimizer {
  /** one entry per `step()` call: variable name → gradient × gradScale */
  readonly updates: Map<string, Float32Array>[] = [];

  constructor(variables: NamedVariables) {
    super('gradient-probe', variables, 1, 0, []);
  }

  protected slotNames(): readonly string[] {
    return [];
  }

  protected update(
    _v: tf.Variable,
    _g: tf.Tensor,
    _slots: Map<string, tf.Variable>,
    _t: number,
    _lr: number,
    _hyper: unknown,
    _gradScale: number,
  ): void {}

  override step(grads: NamedTensors, options: { gradScale?: number } = {}): void {
    const scale = options.gradScale ?? 1;
    const recorded = new Map<string, Float32Array>();
    for (const [name, g] of Object.entries(grads)) {
      const data = Float32Array.from(g.dataSync() as Float32Array);
      if (scale !== 1) for (let i = 0; i < data.length; i++) data[i]! *= scale;
      recorded.set(name, data);
    }
    this.updates.push(recorded);
  }
}
