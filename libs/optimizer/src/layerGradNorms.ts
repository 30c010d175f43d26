import type * as tf from '@tensorflow/tfjs-core';
import type { NamedTensors } from './namedVariables';
import { globalNorm } from './clipGradNorm';

/**
 * The group a parameter belongs to for per-layer gradient norms: `layers.<i>` for a
 * decoder block (`model.layers.3.mlp.up_proj.weight`, GPT-2's `transformer.h.3.…`,
 * LoRA factors inside either), else the parameter's module without the
 * `model.` / `transformer.` prefix and the `.weight` / `.bias` suffix
 * (`embed_tokens`, `norm`, `lm_head`, `wte`).
 */
export function layerGroup(name: string): string {
  const block = /(?:^|\.)(?:layers|h)\.(\d+)\./.exec(name);
  if (block) return `layers.${block[1]}`;
  return name.replace(/^(model|transformer)\./, '').replace(/\.(weight|bias)$/, '');
}

/**
 * L2 norm of the gradients of each layer group ({@link layerGroup}), read to numbers:
 * the debugging view of where a gradient spike or a vanishing gradient sits. The
 * groups' norms combine to the global norm: √Σ_g n_g² = ‖g‖.
 */
export function layerGradNorms(grads: NamedTensors): Record<string, number> {
  const groups = new Map<string, Record<string, tf.Tensor>>();
  for (const [name, g] of Object.entries(grads)) {
    const key = layerGroup(name);
    const group = groups.get(key) ?? {};
    group[name] = g;
    groups.set(key, group);
  }
  const out: Record<string, number> = {};
  for (const [key, group] of groups) {
    const n = globalNorm(group);
    out[key] = n.dataSync()[0]!;
    n.dispose();
  }
  return out;
}
