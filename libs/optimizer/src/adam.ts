import * as tf from '@tensorflow/tfjs-core';
import { adamUpdateInPlace } from '@rxrl/core';
import type { z } from 'zod';
import type { LrScheduler } from './lrSchedule';
import { NamedOptimizer } from './namedOptimizer';
import type { NamedVariables } from './namedVariables';
import { AdamOptionsSchema, parseOptions } from './optimizerOptions';
import type { ParamGroup, ResolvedHyper } from './paramGroups';

/** Extra constructor arguments shared by the optimizers. */
export interface OptimizerExtras {
  /** parameter groups; the first group whose `match` accepts a name sets its hyper-parameters */
  paramGroups?: readonly ParamGroup[];
  /** learning-rate scheduler (its base lr must equal `lr`); constant when omitted */
  scheduler?: LrScheduler;
}

/** Adam / AdamW options as a user writes them. */
export type AdamOptionsInput = z.input<typeof AdamOptionsSchema>;

/** The Adam update shared by Adam and AdamW; they differ only in how weight decay enters. */
abstract class AdamFamily extends NamedOptimizer {
  private readonly betas: [number, number];
  private readonly eps: number;

  protected constructor(
    kind: 'adam' | 'adamw',
    private readonly decoupled: boolean,
    variables: NamedVariables,
    options: AdamOptionsInput,
    extras: OptimizerExtras,
  ) {
    const o = parseOptions(AdamOptionsSchema, options, kind);
    // torch defaults: AdamW weight_decay 0.01, Adam 0
    const wd = o.weight_decay ?? (decoupled ? 0.01 : 0);
    super(kind, variables, o.lr, wd, extras.paramGroups ?? [], extras.scheduler);
    this.betas = o.betas;
    this.eps = o.eps;
  }

  protected slotNames(): readonly string[] {
    return ['exp_avg', 'exp_avg_sq'];
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
    const [b1, b2] = this.betas;
    const wd = hyper.weightDecay;
    const m = slots.get('exp_avg')!;
    const s = slots.get('exp_avg_sq')!;
    const stepSize = lr / (1 - b1 ** t);
    const bc2 = Math.sqrt(1 - b2 ** t);
    const l2 = !this.decoupled ? wd : 0;
    const decay = this.decoupled && wd !== 0 ? 1 - lr * wd : 1;
    // the native backend does the same arithmetic in one pass, in place, with the same bits
    const constants = {
      gradScale,
      l2,
      beta1: b1,
      beta2: b2,
      biasCorrection2Sqrt: bc2,
      eps: this.eps,
      decay,
      stepSize,
    };
    if (adamUpdateInPlace(v, grad, m, s, constants)) return;
    const scaled = gradScale !== 1 ? tf.mul(grad, gradScale) : grad;
    const g = l2 !== 0 ? tf.add(scaled, tf.mul(v, l2)) : scaled;
    const m2 = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1));
    const s2 = tf.add(tf.mul(s, b2), tf.mul(tf.square(g), 1 - b2));
    const denom = tf.add(tf.div(tf.sqrt(s2), bc2), this.eps);
    const decayed = decay !== 1 ? tf.mul(v, decay) : v;
    v.assign(tf.sub(decayed, tf.mul(tf.div(m2, denom), stepSize)));
    m.assign(m2);
    s.assign(s2);
  }
}

/**
 * Adam with torch.optim.Adam semantics: bias-corrected moments, and weight decay
 * as an L2 term added to the gradient (coupled; default 0). State keyed by variable name.
 */
export class Adam extends AdamFamily {
  constructor(
    variables: NamedVariables,
    options: AdamOptionsInput = {},
    extras: OptimizerExtras = {},
  ) {
    super('adam', false, variables, options, extras);
  }
}

/**
 * AdamW with torch.optim.AdamW semantics: p *= 1 - lr * weight_decay (default
 * 0.01), then the bias-corrected Adam step. State is keyed by variable name,
 * unlike tf.AdamOptimizer, whose moments follow the variable list's order.
 */
export class AdamW extends AdamFamily {
  constructor(
    variables: NamedVariables,
    options: AdamOptionsInput = {},
    extras: OptimizerExtras = {},
  ) {
    super('adamw', true, variables, options, extras);
  }
}
