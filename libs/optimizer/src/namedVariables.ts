import * as tf from '@tensorflow/tfjs-core';
import { RxrlUsageError } from '@rxrl/core';

/**
 * Variables an optimizer updates, keyed by name. An array is keyed by each
 * variable's own `name` — the key `tf.variableGrads` uses for its gradients — so
 * the order of the list never matters.
 */
export type NamedVariables = readonly tf.Variable[] | Readonly<Record<string, tf.Variable>>;

/** Gradients (or any tensors) keyed by variable name. */
export type NamedTensors = Readonly<Record<string, tf.Tensor>>;

/** Normalises {@link NamedVariables} to a name → variable map, rejecting duplicate names. */
export function toVariableMap(variables: NamedVariables): Map<string, tf.Variable> {
  const map = new Map<string, tf.Variable>();
  const entries: [string, tf.Variable][] = Array.isArray(variables)
    ? (variables as readonly tf.Variable[]).map((v) => [v.name, v])
    : Object.entries(variables as Record<string, tf.Variable>);
  for (const [name, v] of entries) {
    if (map.has(name))
      throw new RxrlUsageError(
        `variable name '${name}' appears twice in the optimizer's variable list`,
      );
    if (v.dtype !== 'float32')
      throw new RxrlUsageError(`variable '${name}' has dtype ${v.dtype}; optimizers need float32`);
    map.set(name, v);
  }
  return map;
}
