/**
 * Tensor bytes a DPO/GRPO trainer holds with full fine-tuning vs LoRA: the
 * policy, the reference policy, the AdamW moments after one update (steady =
 * all three), and the bytes held when the loss is formed (end of the forward
 * pass, activations taped) — tf.memory().numBytes, float32.
 *
 *   node --import tsx tools/bench/loraMemory.ts [--arch llama] [--preset small] [--r 8]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@rxrl/core';
import {
  ARCHITECTURES,
  CausalLM,
  LoraAdapter,
  PRESETS,
  presetConfig,
  type Architecture,
  type Preset,
} from '@rxrl/model';
import { AdamW } from '@rxrl/optimizer';

const { values } = parseArgs({
  options: {
    arch: { type: 'string', default: 'llama' },
    preset: { type: 'string', default: 'small' },
    r: { type: 'string', default: '8' },
  },
});
const arch = values.arch as Architecture;
const preset = values.preset as Preset;
if (!ARCHITECTURES.includes(arch) || !PRESETS.includes(preset))
  throw new Error(`--arch ${ARCHITECTURES.join('|')} --preset ${PRESETS.join('|')}`);
const r = Number(values.r);

await useBackend('cpu');
const V = 256;
const ids = tf.tensor2d(
  Array.from({ length: 4 * 32 }, (_, i) => (i * 7) % V),
  [4, 32],
  'int32',
);

function measure(lora: boolean) {
  const start = tf.memory().numBytes;
  const model = CausalLM.create(presetConfig(arch, preset, V), { seed: 0 });
  if (lora)
    model.attachAdapter(
      LoraAdapter.create(model, { r, lora_alpha: 2 * r, target_modules: 'all-linear' }, { seed: 0 }),
    );
  const afterPolicy = tf.memory().numBytes;
  const reference = model.referencePolicy();
  const afterReference = tf.memory().numBytes;
  const opt = new AdamW(Object.fromEntries(model.trainableVariables()), { lr: 1e-3 });
  let peak = 0;
  const { value, grads } = model.variableGrads(() => {
    const lp = model.tokenLogProbs(ids, null, ids);
    const ref = reference.tokenLogProbs(ids, null, ids); // not differentiated: its weights are not trainable
    peak = Math.max(peak, tf.memory().numBytes);
    return tf.mean(tf.sub(lp, ref)) as tf.Scalar;
  });
  peak = Math.max(peak, tf.memory().numBytes);
  opt.step(Object.fromEntries(grads));
  tf.dispose([value, ...grads.values()]);
  const steady = tf.memory().numBytes;
  const row = {
    mode: lora ? `LoRA r=${r} all-linear` : 'full fine-tune',
    trainable: [...model.trainableVariables().values()].reduce((s, v) => s + v.size, 0),
    policy: afterPolicy - start,
    reference: afterReference - afterPolicy,
    adamMoments: steady - afterReference,
    steady: steady - start,
    peak: peak - start,
  };
  opt.dispose();
  reference.dispose();
  model.dispose();
  return row;
}

const rows = [measure(false), measure(true)];
const mib = (b: number) => (b / 2 ** 20).toFixed(2);
console.log(`${arch}/${preset} (vocab ${V}), tensor bytes in MiB (tf.memory().numBytes):`);
console.log('mode                  | trainable | policy | reference | AdamW | steady | at loss');
for (const x of rows)
  console.log(
    `${x.mode.padEnd(21)} | ${String(x.trainable).padStart(9)} | ${mib(x.policy).padStart(6)} | ${mib(x.reference).padStart(9)} | ${mib(x.adamMoments).padStart(5)} | ${mib(x.steady).padStart(6)} | ${mib(x.peak)}`,
  );
console.log(
  `saved by LoRA: ${mib(rows[0]!.steady - rows[1]!.steady)} MiB steady (${((1 - rows[1]!.steady / rows[0]!.steady) * 100).toFixed(1)}%), reference ${mib(rows[0]!.reference)} -> ${mib(rows[1]!.reference)} MiB`,
);
ids.dispose();
