import * as tf from '@tensorflow/tfjs-core';
import type { z } from 'zod';
import type { OptimizerExtras } from './adam';
import { NamedOptimizer } from './namedOptimizer';
import type { NamedVariables } from './namedVariables';
import { parseOptions, SgdOptionsSchema } from './optimizerOptions';
import type { ResolvedHyper } from './paramGroups';

/** SGD options as a user writes them. */
export type SgdOptionsInput = z.input<typeof SgdOptionsSchema>;

/**
 * SGD with torch.optim.SGD semantics: d = g + weight_decay * p; with momentum the
 * buffer starts as d on the first step, then b = momentum * b + (1 - dampening) * d;
 * the step uses d + momentum * b (nesterov) or b.
 */
export class SGD extends NamedOptimizer {
  private readonly momentum: number;
  private readonly dampening: number;
  private readonly nesterov: boolean;

  constructor(
    variables: NamedVariables,
    options: SgdOptionsInput = {},
    extras: OptimizerExtras = {},
  ) {
    const o = parseOptions(SgdOptionsSchema, options, 'sgd');
    super('sgd', variables, o.lr, o.weight_decay, extras.paramGroups ?? [], extras.scheduler);
    this.momentum = o.momentum;
    this.dampening = o.dampening;
    this.nesterov = o.nesterov;
  }

  protected slotNames(): readonly string[] {
    return this.momentum > 0 ? ['momentum_buffer'] : [];
  }

  protected update(
    v: tf.Variable,
    grad: tf.Tensor,
    slots: Map<string, tf.Variable>,
    t: number,
    lr: number,
    hyper: ResolvedHyper,
    gradScale: number,
  ): void {
    const g = gradScale !== 1 ? tf.mul(grad, gradScale) : grad;
    let d = hyper.weightDecay !== 0 ? tf.add(g, tf.mul(v, hyper.weightDecay)) : g;
    if (this.momentum > 0) {
      const buf = slots.get('momentum_buffer')!;
      const b2 = t === 1 ? d : tf.add(tf.mul(buf, this.momentum), tf.mul(d, 1 - this.dampening));
      buf.assign(b2);
      d = this.nesterov ? tf.add(d, tf.mul(b2, this.momentum)) : b2;
    }
    v.assign(tf.sub(v, tf.mul(d, lr)));
  }
}
