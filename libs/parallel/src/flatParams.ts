import * as tf from '@tensorflow/tfjs-core';
import { RxrlUsageError } from '@rxrl/core';
import { clipByGlobalNorm, globalNorm, type NamedOptimizer } from '@rxrl/optimizer';
import type { ParamSlot } from './paramLayout';

/**
 * Adds gradients keyed by variable name into the flat buffer `out` at their
 * layout offsets (a variable without a gradient adds nothing: it is zero).
 */
export function accumulateGradients(
  slots: readonly ParamSlot[],
  grads: Map<string, tf.Tensor | undefined>,
  out: Float32Array,
): void {
  for (const slot of slots) {
    const g = grads.get(slot.name);
    if (!g) continue;
    if (g.size !== slot.size)
      throw new RxrlUsageError(
        `gradient of '${slot.name}' has ${g.size} elements, the layout has ${slot.size}`,
      );
    const src = g.dataSync() as Float32Array;
    const o = slot.offset;
    for (let i = 0; i < src.length; i++) out[o + i]! += src[i]!;
  }
}

/** `scale ×` the slots' values in `flat` as tensors keyed by name (copies: later writes to `flat` do not reach them). */
export function tensorsFromFlat(
  slots: readonly ParamSlot[],
  flat: Float32Array,
  scale = 1,
): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const s of slots) {
    const data = flat.slice(s.offset, s.offset + s.size);
    if (scale !== 1) for (let i = 0; i < data.length; i++) data[i]! *= scale;
    out[s.name] = tf.tensor(data, s.shape, 'float32');
  }
  return out;
}

/**
 * One optimizer step from the summed gradient in `sum`: optional global-norm
 * clipping, then `optimizer.step`. Returns the gradient's global norm before clipping.
 */
export function applySummedGradient(
  slots: readonly ParamSlot[],
  sum: Float32Array,
  optimizer: NamedOptimizer,
  maxGradNorm: number | null,
): number {
  const grads = tensorsFromFlat(slots, sum);
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

/** Copies each slot's variable into `flat` at the slot's offset. */
export function writeToFlat(
  slots: readonly ParamSlot[],
  vars: Map<string, tf.Variable>,
  flat: Float32Array,
): void {
  for (const s of slots) flat.set(vars.get(s.name)!.dataSync() as Float32Array, s.offset);
}

/** Assigns each slot's variable its value from `flat` (the broadcast weights). */
export function assignFromFlat(
  slots: readonly ParamSlot[],
  flat: Float32Array,
  vars: Map<string, tf.Variable>,
): void {
  for (const s of slots) {
    const v = vars.get(s.name)!;
    tf.tidy(() => v.assign(tf.tensor(flat.slice(s.offset, s.offset + s.size), s.shape, 'float32')));
  }
}
