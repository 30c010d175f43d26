/**
 * Where a real-size step spends its time, by TF.js kernel: one warm-up, then
 * one step under tf.profile, kernel times summed by name (and shape for the
 * top ones). A development tool, not a benchmark: the profiler's own overhead
 * is in its totals.
 *
 *   npx tsx tools/bench/real/profileOps.ts DIR '{"mode":"train","batch":1,"seq":512,"checkpointing":false}'
 *   npx tsx tools/bench/real/profileOps.ts DIR '{"mode":"generate","batch":8,"prompt":32,"new_tokens":8}'
 *   npx tsx tools/bench/real/profileOps.ts preset:small '{"mode":"train","batch":8,"seq":128}'
 *
 * `preset:tiny` / `preset:small` profile the `train_step` bench's llama presets (vocab 8192)
 * instead of a checkpoint directory.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng, type Tokenizer } from '@rxrl/core/base';
import { selectBackend } from '@rxrl/core';
import { LoraAdapter, loadPretrained } from '@rxrl/model';
import { AdamW } from '@rxrl/optimizer';
import { benchModel } from '../benchModel';
import { generate } from '@rxrl/rollout';

interface Spec {
  mode: 'generate' | 'train';
  batch: number;
  seq?: number;
  prompt?: number;
  new_tokens?: number;
  checkpointing?: boolean;
  lora?: { r: number; lora_alpha: number; target_modules: string | string[] };
}

const [dir, raw] = process.argv.slice(2);
if (!dir || !raw) throw new Error('usage: profileOps.ts MODEL_DIR SPEC_JSON');
const spec = JSON.parse(raw) as Spec;
await selectBackend('native');
const model = dir.startsWith('preset:')
  ? benchModel(dir.slice('preset:'.length) as 'tiny' | 'small')
  : await loadPretrained(dir);
model.activationCheckpointing = spec.checkpointing === true;
if (spec.lora) model.attachAdapter(LoraAdapter.create(model, spec.lora, { seed: 0 }));
const vocab = model.config.vocabSize;
const rng = new Rng(0);
const ids = (b: number, t: number) =>
  Array.from({ length: b }, () => Array.from({ length: t }, () => rng.int(vocab)));

let step: () => Promise<void>;
if (spec.mode === 'generate') {
  const tokenizer: Tokenizer = {
    vocabSize: vocab,
    bosTokenId: null,
    eosTokenId: null,
    padTokenId: 0,
    encode: () => [],
    decode: (x) => `${x.length} tokens`,
    applyChatTemplate: () => '',
  };
  const prompts = ids(spec.batch, spec.prompt!);
  step = async () => {
    await generate(model, tokenizer, prompts, {
      max_new_tokens: spec.new_tokens!,
      ignore_eos: true,
      generation_batch_size: spec.batch,
      temperature: 0,
    });
  };
} else {
  const [b, t] = [spec.batch, spec.seq!];
  const input = tf.tensor2d(ids(b, t), [b, t], 'int32');
  const target = tf.tensor2d(ids(b, t), [b, t], 'int32');
  const optimizer = new AdamW(Object.fromEntries(model.trainableVariables()), { lr: 1e-5 });
  step = async () => {
    const t0 = performance.now();
    const { value, grads } = model.variableGrads(
      () => tf.neg(tf.mean(model.tokenLogProbs(input, null, target))) as tf.Scalar,
    );
    const t1 = performance.now();
    optimizer.step(Object.fromEntries(grads));
    tf.dispose([value, ...grads.values()]);
    await model.variables().get('model.norm.weight')!.data();
    console.log(`grads ${((t1 - t0) / 1000).toFixed(2)} s, optimizer ${((performance.now() - t1) / 1000).toFixed(2)} s`);
  };
}
let t = performance.now();
await step();
console.log(`warm-up ${((performance.now() - t) / 1000).toFixed(2)} s`);
t = performance.now();
await step();
const plain = (performance.now() - t) / 1000;
console.log(`step ${plain.toFixed(2)} s (unprofiled)`);
t = performance.now();
const info = await tf.profile(step);
const wall = (performance.now() - t) / 1000;
const byName = new Map<string, { ms: number; n: number }>();
const byShape = new Map<string, { ms: number; n: number }>();
for (const k of info.kernels) {
  const ms = k.kernelTimeMs as number;
  const a = byName.get(k.name) ?? { ms: 0, n: 0 };
  byName.set(k.name, { ms: a.ms + ms, n: a.n + 1 });
  const key = `${k.name} ${k.inputShapes.map((s) => `[${s}]`).join(' ')}`;
  const c = byShape.get(key) ?? { ms: 0, n: 0 };
  byShape.set(key, { ms: c.ms + ms, n: c.n + 1 });
}
const total = [...byName.values()].reduce((s, x) => s + x.ms, 0);
console.log(`profiled step ${wall.toFixed(2)} s; kernels ${info.kernels.length}, ${(total / 1000).toFixed(2)} s in kernels`);
for (const [n, x] of [...byName].sort((p, q) => q[1].ms - p[1].ms).slice(0, 25))
  console.log(`${n.padEnd(24)} ${(x.ms / 1000).toFixed(3).padStart(8)} s ${String(x.n).padStart(6)} calls ${((100 * x.ms) / total).toFixed(1)}%`);
console.log('--- by shape');
for (const [n, x] of [...byShape].sort((p, q) => q[1].ms - p[1].ms).slice(0, 40))
  console.log(`${(x.ms / 1000).toFixed(3).padStart(8)} s ${String(x.n).padStart(5)}  ${n}`);
console.log(`peak RSS ${(process.resourceUsage().maxRSS / 2 ** 20).toFixed(2)} GiB`);
