import * as tf from '@tensorflow/tfjs-core';
import { RxrlDataError } from '@rxrl/core/base';
import {
  parseShardedSafetensors,
  shardSafetensors,
  type CausalLM,
  type HostTensor,
} from '@rxrl/model';
import type { NamedOptimizer, OptimizerState } from '@rxrl/optimizer';
import type { StateFiles } from '@rxrl/pipeline';

/** `policy.safetensors` (or `policy-0000i-of-0000n.safetensors` past 2 GiB): the trained weights */
const MODEL = 'policy';
/** `optimizer.safetensors` (or shards): the slots, named `<variable>::<slot>` */
const OPT_SLOTS = 'optimizer';
const OPT_META = 'optimizer.json';
const SLOT_SEP = '::';

/**
 * Checkpoint files of a policy and its optimizer, for every trainer (SFT, DPO, GRPO, GKD): the
 * trainable weights (with LoRA only the adapters — the frozen base is not
 * stored again in every checkpoint) and the optimizer slots as safetensors,
 * sharded at 2 GiB, and the optimizer's steps as JSON.
 *
 * The safetensors pieces view the tensors' own arrays where the backend keeps
 * them in host memory, so a 0.5B model's 6 GB of weights and moments are not
 * copied on the way to disk: write the files before the next step.
 */
export function savePolicyState(
  model: CausalLM,
  optimizer: NamedOptimizer,
  options: { shardBytes?: number } = {},
): StateFiles {
  const shardBytes = options.shardBytes ?? 2 ** 31;
  const weights: [string, HostTensor][] = [...model.trainableVariables()].map(([name, v]) => [
    name,
    { shape: v.shape.slice(), data: v.dataSync() as Float32Array },
  ]);
  const st = optimizer.getState({ copy: false });
  const slots: [string, HostTensor][] = [];
  const meta: Record<string, { step: number; shape: number[]; slots: string[] }> = {};
  for (const [name, s] of Object.entries(st.variables)) {
    meta[name] = { step: s.step, shape: s.shape, slots: Object.keys(s.slots) };
    for (const [k, data] of Object.entries(s.slots))
      slots.push([`${name}${SLOT_SEP}${k}`, { shape: s.shape, data }]);
  }
  return {
    ...Object.fromEntries(shardSafetensors(MODEL, weights, shardBytes)),
    ...Object.fromEntries(shardSafetensors(OPT_SLOTS, slots, shardBytes)),
    [OPT_META]: JSON.stringify({
      kind: st.kind,
      step: st.step,
      schedule: st.schedule,
      variables: meta,
    }),
  };
}

function tensorsOf(base: string, files: Record<string, Uint8Array>): Map<string, HostTensor> {
  const tensors = parseShardedSafetensors(base, files);
  if (!tensors)
    throw new RxrlDataError(`checkpoint: file '${base}.safetensors' is missing`, {
      source: `${base}.safetensors`,
    });
  return tensors;
}

/** Restore what {@link savePolicyState} wrote, in place. */
export function loadPolicyState(
  model: CausalLM,
  optimizer: NamedOptimizer,
  files: Record<string, Uint8Array>,
): void {
  const weights = tensorsOf(MODEL, files);
  if (!files[OPT_META])
    throw new RxrlDataError(`checkpoint: file '${OPT_META}' is missing`, { source: OPT_META });
  const slots = tensorsOf(OPT_SLOTS, files);
  for (const [name, v] of model.trainableVariables()) {
    const t = weights.get(name);
    if (!t)
      throw new RxrlDataError(`checkpoint: weight '${name}' is missing`, {
        source: `${MODEL}.safetensors`,
        field: name,
      });
    if (t.shape.join() !== v.shape.join())
      throw new RxrlDataError(
        `checkpoint: weight '${name}' has shape [${t.shape}], the model [${v.shape}]`,
        { source: `${MODEL}.safetensors`, field: name },
      );
    const x = tf.tensor(t.data, v.shape, 'float32');
    v.assign(x);
    x.dispose();
  }
  const meta = JSON.parse(new TextDecoder().decode(files[OPT_META])) as {
    kind: string;
    step: number;
    schedule: OptimizerState['schedule'];
    variables: Record<string, { step: number; shape: number[]; slots: string[] }>;
  };
  const variables: OptimizerState['variables'] = {};
  for (const [name, m] of Object.entries(meta.variables)) {
    variables[name] = {
      step: m.step,
      shape: m.shape,
      slots: Object.fromEntries(
        m.slots.map((k) => [k, slots.get(`${name}${SLOT_SEP}${k}`)?.data ?? new Float32Array(0)]),
      ),
    };
  }
  optimizer.loadState({ kind: meta.kind, step: meta.step, schedule: meta.schedule, variables });
}
