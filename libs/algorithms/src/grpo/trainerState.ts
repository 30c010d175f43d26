import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from '@rxrl/model';
import { parseSafetensors, serializeSafetensors, type HostTensor } from '@rxrl/model';
import type { NamedOptimizer, OptimizerState } from '@rxrl/optimizer';
import { RxrlDataError } from '@rxrl/core/base';

const SLOT_SEP = '::';

/** Checkpoint files of a policy and its optimizer: weights and slots as safetensors, the rest as JSON. */
export function saveTrainerState(
  model: CausalLM,
  optimizer: NamedOptimizer,
): Record<string, Uint8Array | string> {
  // the trained variables only: with LoRA the frozen base is not stored again in every checkpoint
  const weights: [string, HostTensor][] = [...model.trainableVariables()].map(([name, v]) => [
    name,
    { shape: v.shape.slice(), data: Float32Array.from(v.dataSync() as Float32Array) },
  ]);
  const state = optimizer.getState();
  const slots: [string, HostTensor][] = [];
  const variables: Record<string, { step: number; shape: number[]; slots: string[] }> = {};
  for (const [name, v] of Object.entries(state.variables)) {
    variables[name] = { step: v.step, shape: v.shape, slots: Object.keys(v.slots) };
    for (const [slot, data] of Object.entries(v.slots))
      slots.push([`${name}${SLOT_SEP}${slot}`, { shape: v.shape, data }]);
  }
  return {
    'policy.safetensors': serializeSafetensors(weights),
    'optimizer.safetensors': serializeSafetensors(slots),
    'optimizer.json': JSON.stringify({
      kind: state.kind,
      step: state.step,
      schedule: state.schedule,
      variables,
    }),
  };
}

/** Restores what {@link saveTrainerState} wrote into an existing model and optimizer. */
export function loadTrainerState(
  model: CausalLM,
  optimizer: NamedOptimizer,
  files: Record<string, Uint8Array>,
): void {
  const need = (name: string) => {
    const f = files[name];
    if (!f) throw new RxrlDataError(`checkpoint has no ${name}`, { source: name });
    return f;
  };
  const weights = parseSafetensors(need('policy.safetensors'), 'policy.safetensors').tensors;
  for (const [name, v] of model.trainableVariables()) {
    const t = weights.get(name);
    if (!t)
      throw new RxrlDataError(`policy.safetensors: missing tensor ${name}`, {
        source: 'policy.safetensors',
        field: name,
      });
    if (t.shape.join() !== v.shape.join()) {
      throw new RxrlDataError(
        `policy.safetensors: ${name} has shape [${t.shape}], the model [${v.shape}]`,
        { source: 'policy.safetensors', field: name },
      );
    }
    tf.tidy(() => v.assign(tf.tensor(t.data, v.shape)));
  }
  const meta = JSON.parse(new TextDecoder().decode(need('optimizer.json'))) as {
    kind: string;
    step: number;
    schedule: OptimizerState['schedule'];
    variables: Record<string, { step: number; shape: number[]; slots: string[] }>;
  };
  const slots = parseSafetensors(need('optimizer.safetensors'), 'optimizer.safetensors').tensors;
  const variables: OptimizerState['variables'] = {};
  for (const [name, v] of Object.entries(meta.variables)) {
    const s: Record<string, Float32Array> = {};
    for (const slot of v.slots) s[slot] = slots.get(`${name}${SLOT_SEP}${slot}`)!.data;
    variables[name] = { step: v.step, shape: v.shape, slots: s };
  }
  optimizer.loadState({ kind: meta.kind, step: meta.step, schedule: meta.schedule, variables });
}
