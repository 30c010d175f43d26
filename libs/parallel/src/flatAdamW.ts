import { AdamOptionsSchema, type AdamOptionsInput } from '@rxrl/optimizer';

/**
 * AdamW (torch.optim.AdamW semantics, as `@rxrl/optimizer`'s AdamW) fused into
 * one pass over a contiguous range of a flat float32 parameter buffer: decay,
 * both moments and the bias-corrected update per element, instead of a dozen
 * TensorFlow.js element-wise ops each writing a full-size tensor. The moments
 * cover only `[lo, hi)`, the range this worker owns.
 */
export class FlatAdamW {
  private readonly lr: number;
  private readonly b1: number;
  private readonly b2: number;
  private readonly eps: number;
  private readonly wd: number;
  private readonly m: Float32Array;
  private readonly v: Float32Array;
  private t = 0;

  constructor(
    options: AdamOptionsInput,
    readonly lo: number,
    readonly hi: number,
  ) {
    const o = AdamOptionsSchema.parse(options);
    this.lr = o.lr;
    [this.b1, this.b2] = o.betas;
    this.eps = o.eps;
    this.wd = o.weight_decay ?? 0.01; // torch's AdamW default, as the optimizer library
    this.m = new Float32Array(hi - lo);
    this.v = new Float32Array(hi - lo);
  }

  /** steps taken */
  get stepCount(): number {
    return this.t;
  }

  /** One update of `params[lo, hi)` from `coef × grads[lo, hi)` (coef: the clipping factor). */
  step(params: Float32Array, grads: Float32Array, coef = 1): void {
    this.t++;
    const { lr, b1, b2, eps, m, v, lo, hi } = this;
    const decay = 1 - lr * this.wd;
    const stepSize = lr / (1 - b1 ** this.t);
    const bc2 = Math.sqrt(1 - b2 ** this.t);
    for (let i = lo, j = 0; i < hi; i++, j++) {
      const g = grads[i]! * coef;
      const mj = (m[j] = b1 * m[j]! + (1 - b1) * g);
      const vj = (v[j] = b2 * v[j]! + (1 - b2) * g * g);
      params[i] = params[i]! * decay - (stepSize * mj) / (Math.sqrt(vj) / bc2 + eps);
    }
  }
}
