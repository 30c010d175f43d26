import * as tf from '@tensorflow/tfjs-core';
import { RxrlUsageError } from '@rxrl/core';
import { clipByGlobalNorm, globalNorm, type NamedOptimizer } from '@rxrl/optimizer';
import type { ParamLayout } from './paramLayout';

/**
 * Adds gradients keyed by variable name into the flat buffer `out` at their
 * layout offsets (a variable without a gradient adds nothing: it is zero).
 */
export function accumulateGradients(layout: ParamLayout, grads: Map<string, tf.Tensor | undefined>, out: Float32Array): void {
  for (const slot of layout.slots) {
    const g = grads.get(slot.name);
    if (!g) continue;
    if (g.size !== slot.size) throw new RxrlUsageError(`gradient of '${slot.name}' has ${g.size} elements, the layout has ${slot.size}`);
    const src = g.dataSync() as Float32Array;
    const o = slot.offset;
    for (let i = 0; i < src.length; i++) out[o + i]! += src[i]!;
  }
}

/** Tensors of `flat` per layout slot, keyed by name (copies: later writes to `flat` do not reach them). */
export function tensorsFromFlat(layout: ParamLayout, flat: Float32Array): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const s of layout.slots) out[s.name] = tf.tensor(flat.slice(s.offset, s.offset + s.size), s.shape, 'float32');
  return out;
}

/**
 * One optimizer step from the summed gradient in `sum`: optional global-norm
 * clipping, then `optimizer.step`. Returns the gradient's global norm before clipping.
 */
export function applySummedGradient(layout: ParamLayout, sum: Float32Array, optimizer: NamedOptimizer, maxGradNorm: number | null): number {
  const grads = tensorsFromFlat(layout, sum);
  try {
    if (maxGradNorm === null) {
      const norm = globalNorm(grads);
      const n = norm.dataSync()[0]!;
      norm.dispose();
      optimizer.step(grads);
      return n;
    }
    const clipped = clipByGlobalNorm(grads, maxGradNorm);
    try {
      optimizer.step(clipped.grads);
    } finally {
      tf.dispose(Object.values(clipped.grads));
    }
    return clipped.gradNorm;
  } finally {
    tf.dispose(Object.values(grads));
  }
}

/** Copies every variable's value into `flat` at its layout offset. */
export function writeToFlat(layout: ParamLayout, vars: Map<string, tf.Variable>, flat: Float32Array): void {
  for (const s of layout.slots) flat.set(vars.get(s.name)!.dataSync() as Float32Array, s.offset);
}

/** Assigns every variable its value from `flat` (the broadcast weights). */
export function assignFromFlat(layout: ParamLayout, flat: Float32Array, vars: Map<string, tf.Variable>): void {
  for (const s of layout.slots) {
    const v = vars.get(s.name)!;
    tf.tidy(() => v.assign(tf.tensor(flat.slice(s.offset, s.offset + s.size), s.shape, 'float32')));
  }
}
