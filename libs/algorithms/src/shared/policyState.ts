import * as tf from '@tensorflow/tfjs-core';
import { RxrlDataError } from '@rxrl/core/base';
import {
  parseSafetensors,
  serializeSafetensors,
  type CausalLM,
  type HostTensor,
} from '@rxrl/model';
import type { NamedOptimizer, OptimizerState } from '@rxrl/optimizer';

const MODEL = 'policy.safetensors';
const OPT_SLOTS = 'optimizer.safetensors';
const OPT_META = 'optimizer.json';

/**
 * Checkpoint files of a policy and its optimizer, for every trainer (SFT, DPO, GRPO):
 * the trained variables (with LoRA only the adapters: the frozen base is not stored
 * again in every checkpoint) and the optimizer slots as safetensors, steps as JSON.
 */
export function savePolicyState(
  model: CausalLM,
  optimizer: NamedOptimizer,
): Record<string, Uint8Array | string> {
  const weights: [string, HostTensor][] = [...model.trainableVariables()].map(([name, v]) => [
    name,
    // serializeSafetensors copies into its buffer: no second copy here
    { shape: v.shape.slice(), data: v.dataSync() as Float32Array },
  ]);
  const st = optimizer.getState();
  const slots: [string, HostTensor][] = [];
  const meta: Record<string, { step: number; shape: number[]; slots: string[] }> = {};
  for (const [name, s] of Object.entries(st.variables)) {
    meta[name] = { step: s.step, shape: s.shape, slots: Object.keys(s.slots) };
    for (const [k, data] of Object.entries(s.slots))
      slots.push([`${name}::${k}`, { shape: s.shape, data }]);
  }
  return {
    [MODEL]: serializeSafetensors(weights),
    [OPT_SLOTS]: serializeSafetensors(slots),
    [OPT_META]: JSON.stringify({
      kind: st.kind,
      step: st.step,
      schedule: st.schedule,
      variables: meta,
    }),
  };
}

/** Restore what {@link savePolicyState} wrote, in place. */
export function loadPolicyState(
  model: CausalLM,
  optimizer: NamedOptimizer,
  files: Record<string, Uint8Array>,
): void {
  for (const f of [MODEL, OPT_SLOTS, OPT_META]) {
    if (!files[f]) throw new RxrlDataError(`checkpoint: file '${f}' is missing`, { source: f });
  }
  const weights = parseSafetensors(files[MODEL]!, MODEL).tensors;
  for (const [name, v] of model.trainableVariables()) {
    const t = weights.get(name);
    if (!t)
      throw new RxrlDataError(`checkpoint: weight '${name}' is missing`, {
        source: MODEL,
        field: name,
      });
    if (t.shape.join() !== v.shape.join())
      throw new RxrlDataError(
        `checkpoint: weight '${name}' has shape [${t.shape}], the model [${v.shape}]`,
        { source: MODEL, field: name },
      );
    const x = tf.tensor(t.data, v.shape, 'float32');
    v.assign(x);
    x.dispose();
  }
  const meta = JSON.parse(new TextDecoder().decode(files[OPT_META]!)) as {
    kind: string;
    step: number;
    schedule: OptimizerState['schedule'];
    variables: Record<string, { step: number; shape: number[]; slots: string[] }>;
  };
  const slots = parseSafetensors(files[OPT_SLOTS]!, OPT_SLOTS).tensors;
  const variables: OptimizerState['variables'] = {};
  for (const [name, m] of Object.entries(meta.variables)) {
    variables[name] = {
      step: m.step,
      shape: m.shape,
      slots: Object.fromEntries(
        m.slots.map((k) => [k, slots.get(`${name}::${k}`)?.data ?? new Float32Array(0)]),
      ),
    };
  }
  optimizer.loadState({ kind: meta.kind, step: meta.step, schedule: meta.schedule, variables });
}
